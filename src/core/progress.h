// A progress bar on stderr for long work (perplexity, quantization): label,
// bar, count, rate and ETA, redrawn at most a few times a second. When
// stderr is not a terminal it prints a plain line every 10% instead.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace nibble {

class Progress {
 public:
  Progress(std::string label, int64_t total, std::string unit = "", bool enabled = true);
  ~Progress();  // finishes the line
  void update(int64_t done, const std::string& note = "");
  void finish();

 private:
  void draw(bool final_draw);
  std::string label_, unit_, note_;
  int64_t total_, done_ = 0;
  bool tty_, enabled_, finished_ = false;
  int last_decile_ = -1;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace nibble
