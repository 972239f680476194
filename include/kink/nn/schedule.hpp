#pragma once
/// \file
/// Learning-rate schedules as functions of the epoch (0-based), as torch.optim.lr_scheduler
/// computes them when stepped once per epoch.

#include <cmath>

namespace kink::nn {

/// StepLR: base * gamma^(floor(epoch / step_size)).
inline double step_lr(double base, int epoch, int step_size, double gamma = 0.1) {
    return base * std::pow(gamma, double(epoch / (step_size > 0 ? step_size : 1)));
}

/// CosineAnnealingLR: min + (base - min) (1 + cos(pi epoch / total)) / 2.
inline double cosine_lr(double base, int epoch, int total, double min = 0) {
    const double pi = 3.14159265358979323846;
    return min + (base - min) * (1 + std::cos(pi * double(epoch) / double(total > 0 ? total : 1))) / 2;
}

} // namespace kink::nn
