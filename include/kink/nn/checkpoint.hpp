#pragma once
/// \file
/// Checkpoints in safetensors: the parameters, the optimizer state and a description of the
/// run (network, policy, epoch, hyperparameters) in the metadata. Saving is atomic (see
/// io/safetensors.hpp). Loading checks every parameter's name, dtype and shape against the
/// program's types and refuses a mismatch naming the tensor, the file and both sides.

#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <kink/io/safetensors.hpp>

namespace kink::nn {

template <class T> constexpr const char *dtype_name() {
    if constexpr (sizeof(T) == 8) return "F64";
    else return "F32";
}

/// Doubles as hex floats: exact round trips through metadata strings.
inline std::string exact(double v) {
    char b[64];
    std::snprintf(b, sizeof b, "%a", v);
    return b;
}
inline double parse_exact(const std::string &s, const std::string &key, const std::string &file) {
    char *end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    if (s.empty() || *end) throw io::format_error("kink: " + file + ": metadata '" + key + "' is not a number: '" + s + "'");
    return v;
}

/// Adds every parameter of `store` (or a same-layout state vector) as tensors named prefix + name.
template <class Store, class T>
void add_tensors(std::vector<io::tensor_out> &out, const std::string &prefix, const Store &store, const T *flat) {
    for (std::size_t i = 0; i < Store::count; ++i) {
        std::vector<std::uint64_t> shape(Store::dims[i].begin(), Store::dims[i].begin() + Store::ranks[i]);
        out.push_back({prefix + std::string(Store::names[i]), dtype_name<T>(), shape,
                       {reinterpret_cast<const std::byte *>(flat + Store::offsets[i]), Store::sizes[i] * sizeof(T)}});
    }
    (void)store;
}

/// Reads tensors prefix + name into a flat buffer of the store's layout, checking each.
template <class Store, class T>
void read_tensors(const io::safetensors &f, const std::string &prefix, T *flat, const std::string &file) {
    for (std::size_t i = 0; i < Store::count; ++i) {
        const std::string name = prefix + std::string(Store::names[i]);
        const auto it = f.tensors.find(name);
        if (it == f.tensors.end()) throw io::format_error("kink: " + file + ": no tensor '" + name + "' (the network has it)");
        const io::tensor_info &t = it->second;
        if (t.dtype != dtype_name<T>())
            throw io::format_error("kink: " + file + ": tensor '" + name + "' is " + t.dtype + ", the program computes in " +
                                   dtype_name<T>());
        std::vector<std::uint64_t> want(Store::dims[i].begin(), Store::dims[i].begin() + Store::ranks[i]);
        if (t.shape != want) {
            auto str = [](const std::vector<std::uint64_t> &v) {
                std::string s = "[";
                for (std::size_t k = 0; k < v.size(); ++k) s += (k ? ", " : "") + std::to_string(v[k]);
                return s + "]";
            };
            throw io::format_error("kink: " + file + ": tensor '" + name + "' has shape " + str(t.shape) +
                                   ", the network's is " + str(want));
        }
        const auto bytes = f.bytes(name);
        std::memcpy(flat + Store::offsets[i], bytes.data(), bytes.size());
    }
}

} // namespace kink::nn
