#pragma once
/// \file
/// Model files and checkpoints, in safetensors (atomic writes, see io/atomic.hpp).
///
///  - `save_model(path, net, params)` / `load_model(path, net, params)`: the parameters only,
///    tensors named as the `param` leaves ("W1", "fc1.weight", ...); the model of a training
///    program whose loss is softmax_cross_entropy(z, y) loads into compile_forward(eval_mode(z));
///  - `load_state_dict(path, net, params)` (nn/state_dict.hpp, included here): parameters from any
///    safetensors file with tensors of those names (PyTorch's state_dict of the same architecture),
///    matched by name;
///  - `save_checkpoint(path, net, params, opt)` / `load_checkpoint(path, net, params, opt)`: the
///    parameters (`param.<name>`) and the whole state of the optimizer (`nn::adam`, `nn::adamw`
///    or `nn::sgd`), so that training resumes bit for bit.
///
/// Each file records the network it belongs to: `kink.network`, a one-line description of the
/// program — the graph as printed by to_text (every non-default policy included: relu<one>),
/// the scalar type and every parameter and input with its shape — and `kink.fingerprint`, a
/// 64-bit FNV-1a hash of that line. Loading into a program whose description differs is refused
/// with a message naming both, before any value is read: a relu network's file does not load
/// into a same-shaped tanh network. Every tensor's name, dtype and shape is checked as well.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <kink/exec/program.hpp>
#include <kink/expr/mode.hpp>
#include <kink/io/safetensors.hpp>
#include <kink/nn/optim.hpp>
#include <kink/ops/loss.hpp>
#include <kink/print/backward.hpp>
#include <kink/print/print.hpp>

namespace kink::nn {

/// The safetensors dtype of a scalar type.
template <class T> constexpr const char *dtype_name() {
    if constexpr (KINK_SAME(T, float16)) return "F16";
    else if constexpr (KINK_SAME(T, bfloat16)) return "BF16";
    else if constexpr (sizeof(T) == 8) return "F64";
    else return "F32";
}

/// Doubles as hex floats: exact round trips through metadata strings.
inline std::string exact(double v) {
    char b[64];
    std::snprintf(b, sizeof b, "%a", v);
    return b;
}
/// A number written by `exact` (or any full decimal), strictly: the whole text must be the number.
inline double parse_exact(const std::string &s, const std::string &key, const std::string &file) {
    char *end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    if (s.empty() || *end) throw io::format_error("kink: " + file + ": metadata '" + key + "' is not a number: '" + s + "'");
    return v;
}
/// A non-negative integer, strictly: decimal digits only ("2x", "-7", "" and "1e3" are refused).
inline std::uint64_t parse_count(const std::string &s, const std::string &key, const std::string &file) {
    if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos)
        throw io::format_error("kink: " + file + ": metadata '" + key + "' is not a non-negative integer: '" + s + "'");
    return std::stoull(s);
}

namespace detail {
template <class L> std::string leaf_shapes(const char *what) {
    std::string s;
    [&]<class... N>(meta::list<N...>) {
        (
            [&] {
                if (!s.empty()) s += ", ";
                s += N::name();
                if constexpr (is_label_v<N>) {
                    s += " (label, ";
                    s += std::to_string(N::classes);
                    s += " classes)";
                } else {
                    s += ' ';
                    using S = shape_of_t<N>;
                    for (std::size_t k = 0; k < S::rank; ++k) {
                        if (k) s += 'x';
                        s += std::to_string(S::dims[k]);
                    }
                    if (S::rank == 0) s += "scalar";
                }
            }(),
            ...);
    }(L{});
    return std::string(what) + s;
}
template <class E> struct is_data_leaf : std::bool_constant<is_input_v<E> || is_label_v<E>> {};
} // namespace detail

/// The one-line description of a compiled program that model files and checkpoints record:
/// "network <formula>; scalar F32; parameters W1 256x784, ...; inputs x 784, y (label, 10 classes)",
/// the formula as to_text_shared writes it (each shared subexpression once: linear in the graph).
template <class G, class T> std::string description_of() {
    using topo = topo_t<G>;
    std::string s = "network ";
    s += to_text_shared(ex<G>{});
    s += "; scalar ";
    s += dtype_name<T>();
    s += "; ";
    s += detail::leaf_shapes<meta::filter_t<is_param, topo>>("parameters ");
    s += "; ";
    s += detail::leaf_shapes<meta::filter_t<detail::is_data_leaf, topo>>("inputs ");
    return s;
}
template <class Program> std::string network_description() { return description_of<typename Program::graph, typename Program::scalar>(); }

namespace detail {
/// The forward network of a training graph: the prediction z of softmax_cross_entropy(z, y), in
/// evaluation mode (what compile_forward(eval_mode(z)) compiles); void for any other graph.
template <class G> struct forward_graph {
    using type = void;
};
template <class Z, class Y> struct forward_graph<node<softmax_ce_op, Z, Y>> {
    using type = typename ::kink::detail::to_eval_mode<Z>::type;
};
} // namespace detail

/// The description of the forward network a training program's model serves (see
/// detail::forward_graph), or "" when its loss is not softmax_cross_entropy(z, y).
template <class Program> std::string forward_description() {
    using F = typename detail::forward_graph<typename Program::graph>::type;
    if constexpr (KINK_SAME(F, void)) return {};
    else return description_of<F, typename Program::scalar>();
}
/// 64-bit FNV-1a of the description, as 16 hex digits.
inline std::string fingerprint_of(const std::string &description) {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (const char c : description) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
    char b[17];
    std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(h));
    return b;
}
/// The fingerprint of a compiled program (what model files and checkpoints record).
template <class Program> std::string fingerprint(const Program &) { return fingerprint_of(network_description<Program>()); }

/// Adds every parameter of `Store` (or a same-layout state vector `flat`) as tensors prefix + name.
template <class Store, class T>
void add_tensors(std::vector<io::tensor_out> &out, const std::string &prefix, const Store &, const T *flat) {
    for (std::size_t i = 0; i < Store::count; ++i) {
        std::vector<std::uint64_t> shape(Store::dims[i].begin(), Store::dims[i].begin() + Store::ranks[i]);
        out.push_back({prefix + std::string(Store::names[i]), dtype_name<T>(), shape,
                       {reinterpret_cast<const std::byte *>(flat + Store::offsets[i]), Store::sizes[i] * sizeof(T)}});
    }
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
                for (std::size_t k = 0; k < v.size(); ++k) {
                    if (k) s += ", ";
                    s += std::to_string(v[k]);
                }
                return s + "]";
            };
            throw io::format_error("kink: " + file + ": tensor '" + name + "' has shape " + str(t.shape) +
                                   ", the network's is " + str(want));
        }
        const auto bytes = f.bytes(name);
        std::memcpy(static_cast<void *>(flat + Store::offsets[i]), bytes.data(), bytes.size());
    }
}

/// A metadata value, or a format error naming the file and the missing key.
inline const std::string &metadata(const io::safetensors &f, const std::string &key, const std::string &file) {
    const auto it = f.metadata.find(key);
    if (it == f.metadata.end()) throw io::format_error("kink: " + file + ": metadata '" + key + "' is missing");
    return it->second;
}

// ---------------------------------------------------------------------------------------------
// Optimizer state: one specialisation per optimizer

/// How an optimizer's state goes into a checkpoint: `name`, `save` (tensors + metadata) and
/// `load` (checked). Specialised for adam (adamw is adam with `decoupled`) and sgd.
template <class Opt> struct optimizer_state;

template <class T> struct optimizer_state<adam<T>> {
    static std::string name(const adam<T> &o) { return o.decoupled ? "adamw" : "adam"; }
    template <class Store>
    static void save(const adam<T> &o, const Store &p, std::vector<io::tensor_out> &t, std::map<std::string, std::string> &meta,
                     std::vector<T> &zeros) {
        const bool started = o.m.size() == p.flat().size();
        if (!started) zeros.assign(Store::offsets[Store::count], T(0)); // no step taken yet: zero moments
        add_tensors(t, "adam.m.", p, started ? o.m.data() : zeros.data());
        add_tensors(t, "adam.v.", p, started ? o.v.data() : zeros.data());
        meta["adam.t"] = std::to_string(o.t);
        meta["adam.beta1_t"] = exact(o.beta1_t);
        meta["adam.beta2_t"] = exact(o.beta2_t);
        meta["adam.lr"] = exact(double(o.lr));
        meta["adam.beta1"] = exact(double(o.beta1));
        meta["adam.beta2"] = exact(double(o.beta2));
        meta["adam.eps"] = exact(double(o.eps));
        meta["adam.weight_decay"] = exact(double(o.weight_decay));
    }
    template <class Store> static void load(adam<T> &o, Store &p, const io::safetensors &f, const std::string &path) {
        o.m.assign(p.flat().size(), T(0));
        o.v.assign(p.flat().size(), T(0));
        read_tensors<Store>(f, "adam.m.", o.m.data(), path);
        read_tensors<Store>(f, "adam.v.", o.v.data(), path);
        o.t = static_cast<long>(parse_count(metadata(f, "adam.t", path), "adam.t", path));
        o.beta1_t = parse_exact(metadata(f, "adam.beta1_t", path), "adam.beta1_t", path);
        o.beta2_t = parse_exact(metadata(f, "adam.beta2_t", path), "adam.beta2_t", path);
    }
};
template <class T> struct optimizer_state<adamw<T>> : optimizer_state<adam<T>> {};

template <class T> struct optimizer_state<sgd<T>> {
    static std::string name(const sgd<T> &o) { return o.momentum != T(0) ? "sgd with momentum" : "sgd"; }
    template <class Store>
    static void save(const sgd<T> &o, const Store &p, std::vector<io::tensor_out> &t, std::map<std::string, std::string> &meta,
                     std::vector<T> &zeros) {
        if (o.momentum != T(0)) {
            const bool started = o.buf.size() == p.flat().size();
            if (!started) zeros.assign(Store::offsets[Store::count], T(0));
            add_tensors(t, "sgd.momentum_buffer.", p, started ? o.buf.data() : zeros.data());
        }
        meta["sgd.t"] = std::to_string(o.t);
        meta["sgd.lr"] = exact(double(o.lr));
        meta["sgd.momentum"] = exact(double(o.momentum));
        meta["sgd.dampening"] = exact(double(o.dampening));
        meta["sgd.weight_decay"] = exact(double(o.weight_decay));
        meta["sgd.nesterov"] = o.nesterov ? "1" : "0";
    }
    template <class Store> static void load(sgd<T> &o, Store &p, const io::safetensors &f, const std::string &path) {
        if (o.momentum != T(0)) {
            o.buf.assign(p.flat().size(), T(0));
            read_tensors<Store>(f, "sgd.momentum_buffer.", o.buf.data(), path);
        }
        o.t = static_cast<long>(parse_count(metadata(f, "sgd.t", path), "sgd.t", path));
    }
};

// ---------------------------------------------------------------------------------------------
// Files

namespace detail {
/// Splits s at each occurrence of sep.
inline std::vector<std::string> split_at(const std::string &s, const std::string &sep) {
    std::vector<std::string> out;
    std::size_t at = 0;
    while (true) {
        const std::size_t e = s.find(sep, at);
        out.push_back(s.substr(at, e == std::string::npos ? std::string::npos : e - at));
        if (e == std::string::npos) return out;
        at = e + sep.size();
    }
}
/// Where two network descriptions (network_description) first differ, for a refusal: the
/// differing definition or formula part (a window of it around the first differing character
/// when it is long), or the parameter or input that is missing, extra or of another shape.
inline std::string description_difference(const std::string &file, const std::string &mine) {
    const auto a = split_at(file, "; "), b = split_at(mine, "; ");
    std::size_t k = 0;
    while (k < a.size() && k < b.size() && a[k] == b[k]) ++k;
    const std::string fa = k < a.size() ? a[k] : "(nothing)", fb = k < b.size() ? b[k] : "(nothing)";
    for (const char *list : {"parameters ", "inputs "}) // name the tensor
        if (fa.starts_with(list) && fb.starts_with(list)) {
            const std::size_t n = std::string_view(list).size();
            auto items = [&](const std::string &x) { // (name, shape) in the description's order
                std::vector<std::pair<std::string, std::string>> m;
                for (const auto &item : split_at(x.substr(n), ", ")) {
                    const std::size_t sp = item.find(' ');
                    if (!item.empty()) m.emplace_back(item.substr(0, sp), sp == std::string::npos ? "" : item.substr(sp + 1));
                }
                return m;
            };
            const auto ia = items(fa), ib = items(fb);
            auto find = [](const auto &v, const std::string &name) {
                return std::find_if(v.begin(), v.end(), [&](const auto &e) { return e.first == name; });
            };
            const std::string what = list[0] == 'p' ? "parameter" : "input";
            for (const auto &[name, shape] : ib) {
                const auto it = find(ia, name);
                if (it == ia.end()) return "this program has " + what + " '" + name + "' (" + shape + "), the file does not";
                if (it->second != shape) return what + " '" + name + "' is " + it->second + " in the file, " + shape + " in this program";
            }
            for (const auto &[name, shape] : ia)
                if (find(ib, name) == ib.end()) return "the file has " + what + " '" + name + "' (" + shape + "), this program does not";
        }
    auto window = [](const std::string &x, std::size_t at) {
        if (x.size() <= 200) return x;
        const std::size_t b0 = at > 70 ? at - 70 : 0, e0 = std::min(x.size(), at + 100);
        return (b0 ? "..." : "") + x.substr(b0, e0 - b0) + (e0 < x.size() ? "..." : "");
    };
    std::size_t at = 0;
    while (at < fa.size() && at < fb.size() && fa[at] == fb[at]) ++at;
    return "the file has\n  " + window(fa, at) + "\nwhere this program has\n  " + window(fb, at);
}

inline void check_fingerprint(const io::safetensors &f, const std::string &path, const char *kind, const std::string &description) {
    const auto fp = f.metadata.find("kink.fingerprint");
    if (fp == f.metadata.end() || fp->second != fingerprint_of(description))
        throw io::format_error("kink: " + path + ": its fingerprint does not match its network description (a damaged file)");
    const auto k = f.metadata.find("kink.file");
    if (k == f.metadata.end() || k->second != kind)
        throw io::format_error("kink: " + path + ": is a kink " + (k == f.metadata.end() ? std::string("file of unknown kind") : k->second) +
                               ", not a " + kind);
}
/// Refuses a file written for another network. A model serves its forward network: the model of
/// a training program whose loss is softmax_cross_entropy(z, y) (which records z's evaluation-mode
/// description as kink.forward) loads into compile_forward(eval_mode(z)), and a model written by
/// that inference program loads into the training program.
template <class Program>
void check_network(const io::safetensors &f, const std::string &path, const char *kind, const Program &net) {
    const std::string mine = network_description<Program>();
    const auto it = f.metadata.find("kink.network");
    if (it == f.metadata.end())
        throw io::format_error("kink: " + path + ": not a kink " + kind + " (no 'kink.network' in its metadata)");
    if (it->second != mine) {
        const auto fwd = f.metadata.find("kink.forward");
        const std::string my_forward = forward_description<Program>();
        const bool model = std::string_view(kind) == "model", has_fwd = fwd != f.metadata.end();
        const bool serves = model && ((has_fwd && fwd->second == mine) || (!my_forward.empty() && it->second == my_forward));
        if (!serves) // compare like with like: an inference program with the file's forward network
            throw io::format_error("kink: " + path + ": written by a different network: " +
                                   description_difference(model && has_fwd && my_forward.empty() ? fwd->second : it->second,
                                                          model && !has_fwd && !my_forward.empty() ? my_forward : mine));
    }
    check_fingerprint(f, path, kind, it->second);
    // the runtime constants' values are part of what the program computes (relu'(0), tie rules)
    const auto c = f.metadata.find("kink.constants");
    const std::string theirs = c == f.metadata.end() ? "" : c->second, ours = net.constant_values();
    if (theirs != ours)
        throw io::format_error("kink: " + path + ": written with runtime constants " + (theirs.empty() ? "(none)" : theirs) +
                               ", this program has " + (ours.empty() ? "(none)" : ours) +
                               ": set them (net.constant<\"name\">(value)) before loading");
}
template <class Program> void describe(std::map<std::string, std::string> &meta, const char *kind, const Program &net) {
    const std::string d = network_description<Program>();
    if (const std::string c = net.constant_values(); !c.empty()) meta["kink.constants"] = c;
    meta["kink.file"] = kind;
    meta["kink.network"] = d;
    meta["kink.fingerprint"] = fingerprint_of(d);
    if (const std::string fwd = forward_description<Program>(); !fwd.empty()) meta["kink.forward"] = fwd;
}
} // namespace detail

/// Writes the parameters of `net` to a model file (atomically), with `extra` metadata.
template <class Program>
void save_model(const std::string &path, const Program &net, const typename Program::params_type &params,
                std::map<std::string, std::string> extra = {}) {
    detail::describe<Program>(extra, "model", net);
    std::vector<io::tensor_out> t;
    add_tensors(t, "", params, params.data());
    io::write_safetensors(path, t, extra);
}
/// Reads a model file written for the same network into `params`; returns the file (metadata).
template <class Program>
io::safetensors load_model(const std::string &path, const Program &net, typename Program::params_type &params) {
    io::safetensors f = io::read_safetensors(path);
    detail::check_network<Program>(f, path, "model", net);
    typename Program::params_type staged; // nothing of `params` changes unless every tensor reads
    read_tensors<typename Program::params_type>(f, "", staged.data(), path);
    params = staged;
    return f;
}

/// A checkpoint before it is written: the tensors (views of the parameters, of the optimizer's
/// state, or of `zeros`, the moments of an optimizer that has not stepped yet) and the metadata.
/// Valid while the parameters and the optimizer live and are not changed.
template <class T> struct checkpoint_contents {
    std::vector<io::tensor_out> tensors;
    std::map<std::string, std::string> metadata;
    std::vector<T> zeros;
};

/// What save_checkpoint writes: parameters `param.<name>`, the optimizer's state and its
/// hyperparameters, the network description, and `extra` (the caller's description of the run).
/// With io::write_safetensors(path, c.tensors, c.metadata) it is save_checkpoint in two halves:
/// the first depends on the network, the second (the file's encoding and its atomic write) does
/// not, and may be compiled once in a translation unit of its own (examples/fashion_driver.cpp).
template <class Program, class Opt>
checkpoint_contents<typename Program::scalar> checkpoint_of(const Program &net, const typename Program::params_type &params, const Opt &opt,
                                                            std::map<std::string, std::string> extra = {}) {
    checkpoint_contents<typename Program::scalar> c;
    c.metadata = std::move(extra);
    detail::describe<Program>(c.metadata, "checkpoint", net);
    c.metadata["optimizer"] = optimizer_state<Opt>::name(opt);
    c.metadata["kink.seed"] = std::to_string(net.seed()); // the random draws (dropout) resume where they were
    c.metadata["kink.rng_step"] = std::to_string(net.rng_step());
    add_tensors(c.tensors, "param.", params, params.data());
    optimizer_state<Opt>::save(opt, params, c.tensors, c.metadata, c.zeros);
    return c;
}

/// Writes a whole training state (checkpoint_of) to `path`, atomically.
template <class Program, class Opt>
void save_checkpoint(const std::string &path, const Program &net, const typename Program::params_type &params, const Opt &opt,
                     std::map<std::string, std::string> extra = {}) {
    const auto c = checkpoint_of(net, params, opt, std::move(extra));
    io::write_safetensors(path, c.tensors, c.metadata);
}

/// Restores what save_checkpoint wrote for the same network and the same kind of optimizer from
/// the file `f` (io::read_safetensors(path); `path` names it in errors), checking every tensor,
/// and the program's seed and step counter of random draws (unless `net` is const). On an error
/// nothing of `params`, `opt` or `net` has changed.
template <class Program, class Opt>
void load_checkpoint(const io::safetensors &f, const std::string &path, Program &net, typename Program::params_type &params, Opt &opt) {
    detail::check_network<std::remove_const_t<Program>>(f, path, "checkpoint", net);
    const std::string &kind = metadata(f, "optimizer", path);
    if (kind != optimizer_state<Opt>::name(opt))
        throw io::format_error("kink: " + path + ": holds the state of " + kind + ", the optimizer is " +
                               optimizer_state<Opt>::name(opt));
    typename Program::params_type staged;
    read_tensors<typename Program::params_type>(f, "param.", staged.data(), path);
    Opt o = opt;
    optimizer_state<Opt>::load(o, staged, f, path);
    const auto seed = f.metadata.find("kink.seed"), step = f.metadata.find("kink.rng_step");
    const bool draws = seed != f.metadata.end() && step != f.metadata.end();
    const std::uint64_t s = draws ? parse_count(seed->second, "kink.seed", path) : 0, k = draws ? parse_count(step->second, "kink.rng_step", path) : 0;
    params = staged;
    opt = std::move(o);
    if constexpr (!std::is_const_v<Program>)
        if (draws) net.seed(s), net.rng_step(k);
}
/// Reads the checkpoint file at `path` and restores it (above); returns the file (for the
/// caller's metadata).
template <class Program, class Opt>
io::safetensors load_checkpoint(const std::string &path, Program &net, typename Program::params_type &params, Opt &opt) {
    io::safetensors f = io::read_safetensors(path);
    load_checkpoint(f, path, net, params, opt);
    return f;
}

} // namespace kink::nn

#include <kink/nn/state_dict.hpp>
