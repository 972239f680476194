#pragma once
/// \file
/// The umbrella header: `#include <kink/kink.hpp>`.
///
/// Data path: expr (graphs as types) -> ops + policy (value and derivative rules, kink policies)
/// -> diff (compile-time reverse accumulation) -> exec (fused evaluation) -> print (fmt), and
/// on top of them nn (layers, initializers, optimizers, data, metrics, model files and
/// checkpoints) and io (IDX datasets, safetensors, CSV, SVG). This header includes all of them;
/// `kink/core.hpp` is everything but nn/ and io/, and each header compiles on its own.

#include <kink/core.hpp>
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
#include <kink/nn/state_dict.hpp>
#include <kink/nn/train.hpp>
