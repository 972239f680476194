#pragma once
/// \file
/// Checkpoints in safetensors: the parameters, the optimizer state and a description of the
/// run (network, policy, epoch, hyperparameters) in the metadata. Saving is atomic (see
/// io/safetensors.hpp). Loading checks every parameter's name, dtype and shape against the
/// program's types and refuses a mismatch naming the tensor, the file and both sides.

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <kink/io/safetensors.hpp>
#include <kink/nn/optim.hpp>

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

/// A metadata value, or a format error naming the file and the missing key.
inline const std::string &metadata(const io::safetensors &f, const std::string &key, const std::string &file) {
    const auto it = f.metadata.find(key);
    if (it == f.metadata.end()) throw io::format_error("kink: " + file + ": metadata '" + key + "' is missing");
    return it->second;
}

/// A whole training state in one checkpoint: tensors `param.<name>`, `adam.m.<name>`,
/// `adam.v.<name>` and Adam's step count and beta powers (exact) in the metadata, next to
/// `extra` (the caller's description of the run).
template <class Store, class T>
void save_checkpoint(const std::string &path, const Store &params, const adam<T> &opt,
                     std::map<std::string, std::string> extra = {}) {
    std::vector<io::tensor_out> t;
    add_tensors(t, "param.", params, params.data());
    if (opt.m.size() == params.flat().size()) {
        add_tensors(t, "adam.m.", params, opt.m.data());
        add_tensors(t, "adam.v.", params, opt.v.data());
    } else { // no step taken yet: zero moments
        static const std::vector<T> zeros(Store::offsets[Store::count]);
        add_tensors(t, "adam.m.", params, zeros.data());
        add_tensors(t, "adam.v.", params, zeros.data());
    }
    extra["optimizer"] = "adam";
    extra["adam.t"] = std::to_string(opt.t);
    extra["adam.beta1_t"] = exact(opt.beta1_t);
    extra["adam.beta2_t"] = exact(opt.beta2_t);
    io::write_safetensors(path, t, extra);
}

/// Restores what save_checkpoint wrote, checking every tensor against the program's parameters;
/// returns the file (for the caller's metadata).
template <class Store, class T> io::safetensors load_checkpoint(const std::string &path, Store &params, adam<T> &opt) {
    io::safetensors f = io::read_safetensors(path);
    read_tensors<Store>(f, "param.", params.data(), path);
    opt.m.assign(params.flat().size(), T(0));
    opt.v.assign(params.flat().size(), T(0));
    read_tensors<Store>(f, "adam.m.", opt.m.data(), path);
    read_tensors<Store>(f, "adam.v.", opt.v.data(), path);
    const std::string &steps = metadata(f, "adam.t", path);
    char *end = nullptr;
    opt.t = std::strtol(steps.c_str(), &end, 10);
    if (steps.empty() || *end) throw io::format_error("kink: " + path + ": metadata 'adam.t' is not an integer: '" + steps + "'");
    opt.beta1_t = parse_exact(metadata(f, "adam.beta1_t", path), "adam.beta1_t", path);
    opt.beta2_t = parse_exact(metadata(f, "adam.beta2_t", path), "adam.beta2_t", path);
    return f;
}

} // namespace kink::nn
