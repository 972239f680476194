#pragma once
/// \file
/// The umbrella header: `#include <kink/kink.hpp>`.
///
/// Data path: expr (graphs as types) -> ops + policy (value and derivative rules, kink policies)
/// -> diff (compile-time reverse accumulation) -> exec (fused evaluation) -> print (fmt), and
/// on top of them nn (layers, initializers, optimizers, data, metrics, model files and
/// checkpoints) and io (IDX datasets, safetensors, CSV, SVG). This header includes all of them;
/// each header also compiles on its own for a user who wants less.

#if __cplusplus < 202002L && !defined(_MSVC_LANG)
#error "kink needs C++20: compile with -std=c++20 (or later)"
#endif

#include <kink/expr/expr.hpp>
#include <kink/expr/graph.hpp>
#include <kink/ops/arith.hpp>
#include <kink/ops/smooth.hpp>
#include <kink/ops/relu.hpp>
#include <kink/ops/abs_sign.hpp>
#include <kink/ops/minmax.hpp>
#include <kink/ops/reduce.hpp>
#include <kink/ops/loss.hpp>
#include <kink/policy/policy.hpp>
#include <kink/policy/with_policy.hpp>
#include <kink/diff/grad.hpp>
#include <kink/exec/eval.hpp>
#include <kink/exec/gemm.hpp>
#include <kink/exec/program.hpp>
#include <kink/print/print.hpp>
#include <kink/io/atomic.hpp>
#include <kink/io/idx.hpp>
#include <kink/io/plot.hpp>
#include <kink/io/safetensors.hpp>
#include <kink/nn/checkpoint.hpp>
#include <kink/nn/data.hpp>
#include <kink/nn/init.hpp>
#include <kink/nn/layers.hpp>
#include <kink/nn/optim.hpp>
#include <kink/nn/schedule.hpp>
#include <kink/nn/train.hpp>
