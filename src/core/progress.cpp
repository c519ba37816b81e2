#include "core/progress.h"

#include <unistd.h>

#include <cstdio>

namespace nibble {
namespace {
std::string format_seconds(double s) {
  char buf[32];
  const int total = int(s + 0.5);
  if (total >= 3600)
    std::snprintf(buf, sizeof buf, "%dh%02dm", total / 3600, total / 60 % 60);
  else
    std::snprintf(buf, sizeof buf, "%d:%02d", total / 60, total % 60);
  return buf;
}
}  // namespace

Progress::Progress(std::string label, int64_t total, std::string unit, bool enabled)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), tty_(isatty(2)),
      enabled_(enabled),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {
  draw(false);
}

Progress::~Progress() { finish(); }

void Progress::update(int64_t done, const std::string& note) {
  done_ = done;
  note_ = note;
  const auto now = std::chrono::steady_clock::now();
  if (tty_ && now - last_draw_ < std::chrono::milliseconds(200) && done_ < total_) return;
  last_draw_ = now;
  draw(false);
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  done_ = total_;
  draw(true);
}

void Progress::draw(bool final_draw) {
  if (!enabled_) return;
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double frac = total_ > 0 ? double(done_) / double(total_) : 1.0;
  if (!tty_) {
    const int decile = int(frac * 10);
    if (decile == last_decile_ && (!final_draw || decile == 10)) return;
    last_decile_ = decile;
  }
  const int width = 30;
  std::string bar(size_t(frac * width), '#');
  bar.resize(width, '.');
  std::string eta = done_ > 0 && !final_draw
                        ? "ETA " + format_seconds(elapsed * (1 - frac) / frac)
                        : format_seconds(elapsed);
  const double rate = elapsed > 0 ? double(done_) / elapsed : 0;
  std::fprintf(stderr, "%s%s [%s] %lld/%lld %s (%.1f %s/s, %s)%s%s", tty_ ? "\r\033[K" : "",
               label_.c_str(), bar.c_str(), (long long)done_, (long long)total_, unit_.c_str(),
               rate, unit_.empty() ? "it" : unit_.c_str(), eta.c_str(),
               note_.empty() ? "" : (" " + note_).c_str(), (!tty_ || final_draw) ? "\n" : "");
  std::fflush(stderr);
}

}  // namespace nibble
