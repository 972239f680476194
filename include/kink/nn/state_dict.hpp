#pragma once
/// \file
/// PyTorch's parameters in: `load_state_dict(path, net, params)` reads a plain safetensors file
/// whose tensors are named as the network's parameters (what
/// `safetensors.torch.save_file(model.state_dict(), path)` writes for the same architecture),
/// converting F64, F32, F16 and BF16 to the program's scalar type. kink's own model files and
/// checkpoints are in nn/checkpoint.hpp.

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <kink/exec/narrow.hpp>
#include <kink/io/safetensors.hpp>

namespace kink::nn {

namespace detail {
/// Element k of a tensor's bytes of dtype d (F64, F32, F16, BF16) as T, rounded once.
template <class T> T element_as(std::string_view d, const std::byte *b, std::size_t k) {
    if (d == "F64") {
        double v;
        std::memcpy(&v, b + 8 * k, 8);
        return static_cast<T>(v);
    }
    if (d == "F32") {
        float v;
        std::memcpy(&v, b + 4 * k, 4);
        return static_cast<T>(v);
    }
    std::uint16_t bits;
    std::memcpy(&bits, b + 2 * k, 2);
    const float v = d == "F16" ? static_cast<float>(float16::from_bits(bits)) : static_cast<float>(bfloat16::from_bits(bits));
    if constexpr (is_narrow_v<T>) return T(v);
    else return static_cast<T>(v);
}
inline std::string shape_text(const std::vector<std::uint64_t> &v) {
    std::string s = "[";
    for (std::size_t k = 0; k < v.size(); ++k) s += (k ? ", " : "") + std::to_string(v[k]);
    return s + "]";
}
} // namespace detail

/// Loads the parameters of `net` from a plain safetensors file whose tensors are named as the
/// network's parameters: what PyTorch writes for the same architecture with
/// `safetensors.torch.save_file(model.state_dict(), path)` (kink's networks use PyTorch's names:
/// `fc1.weight`, `conv1.weight` in OIHW, `bn1.running_var`). No kink metadata is needed or read.
/// Tensors of dtype F64, F32, F16 or BF16 are converted to the program's scalar type (each value
/// rounded once). Every problem is reported in one message, one line per tensor that is missing,
/// extra, misshaped or of another kind; PyTorch's `<norm>.num_batches_tracked` is ignored where
/// the network keeps that norm's running statistics (kink does not count batches: it is used
/// only with PyTorch's cumulative average, momentum None). Nothing of `params` changes on error.
template <class Program>
io::safetensors load_state_dict(const std::string &path, const Program &, typename Program::params_type &params) {
    using Store = typename Program::params_type;
    using T = typename Program::scalar;
    io::safetensors f = io::read_safetensors(path);
    std::string problems;
    Store staged;
    std::map<std::string, bool> used;
    for (const auto &[name, t] : f.tensors) used[name] = false;
    for (std::size_t i = 0; i < Store::count; ++i) {
        const std::string name(Store::names[i]);
        const std::vector<std::uint64_t> want(Store::dims[i].begin(), Store::dims[i].begin() + Store::ranks[i]);
        const auto it = f.tensors.find(name);
        if (it == f.tensors.end()) {
            problems += "\n  missing: '" + name + "' " + detail::shape_text(want);
            continue;
        }
        used[name] = true;
        const io::tensor_info &t = it->second;
        if (t.dtype != "F64" && t.dtype != "F32" && t.dtype != "F16" && t.dtype != "BF16") {
            problems += "\n  '" + name + "' is " + t.dtype + ", not a floating-point tensor";
            continue;
        }
        if (t.shape != want) {
            problems += "\n  '" + name + "' has shape " + detail::shape_text(t.shape) + ", the network's is " + detail::shape_text(want);
            continue;
        }
        const std::byte *b = f.bytes(name).data();
        T *dst = staged.data() + Store::offsets[i];
        for (std::size_t k = 0; k < Store::sizes[i]; ++k) dst[k] = detail::element_as<T>(t.dtype, b, k);
    }
    for (const auto &[name, u] : used) {
        if (u) continue;
        const std::string suffix = ".num_batches_tracked";
        if (name.size() > suffix.size() && name.ends_with(suffix)) {
            const std::string norm = name.substr(0, name.size() - suffix.size()) + ".running_mean";
            bool kept = false;
            for (std::size_t i = 0; i < Store::count; ++i) kept = kept || Store::names[i] == norm;
            if (kept) continue;
        }
        problems += "\n  extra: '" + name + "' " + detail::shape_text(f.tensors.at(name).shape) + " (the network has no such parameter)";
    }
    if (!problems.empty()) throw io::format_error("kink: " + path + ": the tensors do not match the network's parameters:" + problems);
    params = staged;
    return f;
}

} // namespace kink::nn
