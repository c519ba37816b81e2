// The GPTQ Hessian of one linear layer's inputs: H = (2 / N) Σ x xᵀ over every
// token x of N calibration sequences (specs/gptq.md §2). Accumulated in f32
// with BLAS syrk, one sequence (or batch of sequences) at a time.
#pragma once

#include <cstdint>
#include <vector>

namespace nibble::quant {

class HessianAccumulator {
 public:
  explicit HessianAccumulator(int64_t cols);
  // Adds `tokens` input rows (tokens x cols, row-major) belonging to `sequences` sequences.
  void add(const float* X, int64_t tokens, int64_t sequences = 1);
  void merge(const HessianAccumulator& other);  // adds another accumulator's data
  int64_t cols() const { return cols_; }
  int64_t sequences() const { return sequences_; }
  // The full symmetric H (cols x cols, row-major).
  std::vector<float> hessian() const;
  // Σ x_i² over every token for each column i: the unscaled diagonal of H.
  std::vector<float> sum_of_squares() const;

 private:
  int64_t cols_;
  int64_t sequences_ = 0;
  std::vector<float> sum_;  // Σ x xᵀ, upper triangle filled
};

// tr(A H Aᵀ) for A (rows x cols) and H (cols x cols), both row-major: with H
// from an accumulator, proportional to ‖A X‖² summed over the calibration
// inputs X — the output error of a weight change A, without running X.
double weighted_square_norm(const std::vector<float>& A, int64_t rows, int64_t cols,
                            const std::vector<float>& H);

}  // namespace nibble::quant
