// Deterministic reductions: the work is cut into a fixed number of blocks
// that does not depend on the thread count, and partial results are added
// in block order, so sums are bit-identical for any number of threads.
#pragma once

#include <cstddef>

namespace meridian::cpu {

// out (C) += sum over rows of in (N, C)
void ColumnSumAccumulate(float* out, const float* in, int N, int C);

// sum of x[i]^2 in double precision
double SumOfSquares(const float* x, size_t n);

}  // namespace meridian::cpu
