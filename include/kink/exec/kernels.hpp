#pragma once
/// \file
/// Every tensor op's kernels (exec/kernels/), in one place: the program includes this header and
/// finds a node's kernel by its op's type (kernel<Op>, exec/kernel.hpp), never by a list. A kernel
/// of kink's own is added here; a user's kernel<MyOp> needs only to be declared before compile()
/// is instantiated.

#include <kink/exec/kernels/batch.hpp>
#include <kink/exec/kernels/batch_norm.hpp>
#include <kink/exec/kernels/conv.hpp>
#include <kink/exec/kernels/dense.hpp>
#include <kink/exec/kernels/dropout.hpp>
#include <kink/exec/kernels/pool.hpp>
#include <kink/exec/kernels/reduce.hpp>
