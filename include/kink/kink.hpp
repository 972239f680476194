#pragma once
/// \file
/// The umbrella header: `#include <kink/kink.hpp>`.
///
/// Data path: expr (graphs as types) -> ops + policy (value and derivative rules, kink policies)
/// -> diff (compile-time reverse accumulation) -> exec (fused evaluation) -> print (fmt).

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
