// Checkpoints: killing a writer at any moment leaves the previous file intact; resuming from a
// checkpoint continues bit-identically; loading refuses a network of another shape.
#include <doctest/doctest.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <random>
#include <vector>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <kink/kink.hpp>
#include <kink/io/safetensors.hpp>
#include <kink/nn/checkpoint.hpp>
#include <kink/nn/data.hpp>
#include <kink/nn/init.hpp>
#include <kink/nn/optim.hpp>

using namespace kink;

namespace {
constexpr auto x = input<"x", 6>;
constexpr auto y = label<"y", 3>;
constexpr auto W1 = param<"W1", 8, 6>;
constexpr auto b1 = param<"b1", 8>;
constexpr auto W2 = param<"W2", 3, 8>;
constexpr auto b2 = param<"b2", 3>;

std::string tmpfile(const std::string &name) {
    const auto d = std::filesystem::temp_directory_path() / ("kink_ckpt_" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return (d / name).string();
}

template <class Net> struct run_state {
    typename Net::params_type p, g;
    nn::adam<float> opt;
};

/// Trains epochs [from, to] of a fixed synthetic problem.
template <class Net, class State> void train(Net &net, State &st, int from, int to) {
    static std::vector<float> xs = [] {
        std::mt19937 r(3);
        std::uniform_real_distribution<float> u(-1, 1);
        std::vector<float> v(100 * 6);
        for (auto &a : v) a = u(r);
        return v;
    }();
    static std::vector<std::int32_t> ys = [] {
        std::vector<std::int32_t> v(100);
        for (std::size_t i = 0; i < v.size(); ++i) v[i] = std::int32_t(i % 3);
        return v;
    }();
    nn::batcher b(xs, ys, 6, 16, 11);
    for (int e = from; e <= to; ++e) {
        b.shuffle(std::uint64_t(e));
        while (std::size_t n = b.next()) {
            net.step(st.p, st.g, x = b.x(n), y = b.y(n));
            st.opt.step(st.p, st.g);
        }
    }
}

template <class Net, class Store> void save(const std::string &path, const Net &net, const Store &p, const nn::adam<float> &opt) {
    nn::save_checkpoint(path, net, p, opt);
}
template <class Net, class Store> void load(const std::string &path, const Net &net, Store &p, nn::adam<float> &opt) {
    nn::load_checkpoint(path, net, p, opt);
}
} // namespace

TEST_CASE("checkpoint: resuming continues bit for bit") {
    auto net = compile(softmax_cross_entropy(W2 * relu(W1 * x + b1) + b2, y));
    using Net = decltype(net);
    run_state<Net> straight, first, resumed;
    nn::init_uniform_fan_in(net, straight.p, 4);
    nn::init_uniform_fan_in(net, first.p, 4);
    train(net, straight, 1, 4);
    train(net, first, 1, 2);
    const std::string path = tmpfile("resume.safetensors");
    save(path, net, first.p, first.opt);
    load(path, net, resumed.p, resumed.opt);
    CHECK(std::memcmp(first.p.flat().data(), resumed.p.flat().data(), first.p.flat().size_bytes()) == 0);
    CHECK(first.opt.m == resumed.opt.m);
    CHECK(first.opt.v == resumed.opt.v);
    CHECK(first.opt.beta2_t == resumed.opt.beta2_t);
    train(net, first, 3, 4);
    CHECK(std::memcmp(first.p.flat().data(), straight.p.flat().data(), first.p.flat().size_bytes()) == 0);
    train(net, resumed, 3, 4);
    const auto a = straight.p.flat(), b = resumed.p.flat();
    CHECK(std::memcmp(a.data(), b.data(), a.size_bytes()) == 0);
    CHECK(straight.opt.t == resumed.opt.t);
    // and it did train: parameters moved from the initialisation
    run_state<Net> init;
    nn::init_uniform_fan_in(net, init.p, 4);
    CHECK(std::memcmp(init.p.flat().data(), a.data(), a.size_bytes()) != 0);
}

TEST_CASE("checkpoint in two halves: checkpoint_of + write_safetensors writes save_checkpoint's bytes; load from a read file") {
    auto net = compile(softmax_cross_entropy(W2 * relu(W1 * x + b1) + b2, y));
    using Net = decltype(net);
    auto bytes = [](const std::string &path) {
        std::ifstream in(path, std::ios::binary);
        return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    };
    for (const int epochs : {0, 2}) { // 0: an optimizer that has not stepped (its moments written as zeros)
        CAPTURE(epochs);
        run_state<Net> st;
        nn::init_uniform_fan_in(net, st.p, 5);
        if (epochs) train(net, st, 1, epochs);
        const std::map<std::string, std::string> extra{{"run", "two halves"}};
        const std::string whole = tmpfile("whole.safetensors"), halves = tmpfile("halves.safetensors");
        nn::save_checkpoint(whole, net, st.p, st.opt, extra);
        const auto c = nn::checkpoint_of(net, st.p, st.opt, extra);
        io::write_safetensors(halves, c.tensors, c.metadata);
        CHECK(bytes(halves) == bytes(whole));
        CHECK(bytes(whole).size() > 3 * st.p.flat().size_bytes()); // parameters and both moments

        run_state<Net> back;
        const io::safetensors f = io::read_safetensors(halves);
        nn::load_checkpoint(f, halves, net, back.p, back.opt);
        CHECK(std::memcmp(back.p.flat().data(), st.p.flat().data(), st.p.flat().size_bytes()) == 0);
        CHECK(back.opt.t == st.opt.t);
        CHECK(f.metadata.at("run") == "two halves");
    }
}

TEST_CASE("checkpoint: a network of another shape is refused, naming the tensor") {
    auto net = compile(softmax_cross_entropy(W2 * relu(W1 * x + b1) + b2, y));
    auto p = net.make_params();
    nn::adam<float> opt;
    opt.m.assign(p.flat().size(), 0.f);
    opt.v.assign(p.flat().size(), 0.f);
    const std::string path = tmpfile("shape.safetensors");
    save(path, net, p, opt);
    constexpr auto W1b = param<"W1", 9, 6>;
    constexpr auto b1b = param<"b1", 9>;
    constexpr auto W2b = param<"W2", 3, 9>;
    auto other = compile(softmax_cross_entropy(W2b * relu(W1b * x + b1b) + b2, y));
    auto q = other.make_params();
    nn::adam<float> o2;
    std::string msg;
    try {
        load(path, other, q, o2);
    } catch (const io::format_error &e) {
        msg = e.what();
    }
    CHECK(msg == "kink: " + path + ": written by a different network: parameter 'W2' is 3x8 in the file, 3x9 in this program");
    // the tensors themselves are checked too (a file whose description was edited to match)
    auto f = io::read_safetensors(path);
    msg.clear();
    try {
        nn::read_tensors<decltype(q)>(f, "param.", q.data(), path);
    } catch (const io::format_error &e) {
        msg = e.what();
    }
    CHECK(msg == "kink: " + path + ": tensor 'param.W2' has shape [3, 8], the network's is [3, 9]");
    auto dnet = compile<double>(softmax_cross_entropy(W2 * relu(W1 * x + b1) + b2, y));
    auto dp = dnet.make_params();
    msg.clear();
    try {
        nn::read_tensors<decltype(dp)>(io::read_safetensors(path), "param.", dp.data(), path);
    } catch (const io::format_error &e) {
        msg = e.what();
    }
    CHECK(msg == "kink: " + path + ": tensor 'param.W2' is F32, the program computes in F64");
}

TEST_CASE("checkpoint: a writer killed at any moment leaves a complete file") {
    const std::string path = tmpfile("killed.safetensors");
    std::vector<float> big(1 << 20);
    auto write_version = [&](float v) {
        std::fill(big.begin(), big.end(), v);
        io::write_safetensors(path, {{"w", "F32", {big.size()}, {reinterpret_cast<const std::byte *>(big.data()), big.size() * 4}}},
                              {{"version", std::to_string(int(v))}});
    };
    write_version(0);
    int intact = 0, kills = 12;
    for (int k = 0; k < kills; ++k) {
        const pid_t child = ::fork();
        if (child == 0) {
            for (int v = 1;; ++v) write_version(float(v)); // rewrites until killed
        }
        ::usleep(useconds_t(3000 + 7000 * k)); // kill at varying points of a write
        ::kill(child, SIGKILL);
        int status = 0;
        ::waitpid(child, &status, 0);
        const auto f = io::read_safetensors(path); // throws if torn
        const float v = std::stof(f.metadata.at("version"));
        const auto bytes = f.bytes("w");
        std::vector<float> back(big.size());
        std::memcpy(back.data(), bytes.data(), bytes.size());
        intact += std::all_of(back.begin(), back.end(), [&](float a) { return a == v; }) && bytes.size() == big.size() * 4;
    }
    CHECK(intact == kills);
    // the killed writers' temporary files are removed by the next write
    auto leftovers = [&] {
        int n = 0;
        for (const auto &e : std::filesystem::directory_iterator(std::filesystem::path(path).parent_path()))
            n += e.path().filename().string().starts_with("killed.safetensors.tmp.");
        return n;
    };
    const int before = leftovers();
    write_version(99);
    CHECK(leftovers() == 0);
    CHECK(std::stof(io::read_safetensors(path).metadata.at("version")) == 99.f);
    MESSAGE(before << " temporary files of killed writers before the next write, 0 after");
}

TEST_CASE("atomic writes: a live writer's temporary file is left alone, a dead one's removed") {
    const std::string path = tmpfile("stale.txt");
    const pid_t child = ::fork();
    if (child == 0) {
        ::pause();
        ::_exit(0);
    }
    const std::string live = path + ".tmp." + std::to_string(child);
    { std::FILE *f = std::fopen(live.c_str(), "w"); std::fputs("live", f); std::fclose(f); }
    // a pid that is not running: a reaped child's
    const pid_t gone = ::fork();
    if (gone == 0) ::_exit(0);
    ::waitpid(gone, nullptr, 0);
    const std::string dead = path + ".tmp." + std::to_string(gone);
    { std::FILE *f = std::fopen(dead.c_str(), "w"); std::fputs("dead", f); std::fclose(f); }
    const std::string other = path + ".tmp.notapid";
    { std::FILE *f = std::fopen(other.c_str(), "w"); std::fclose(f); }
    io::write_file_atomic(path, {io::bytes_of(std::string("new"))});
    CHECK(std::filesystem::exists(live));
    CHECK(!std::filesystem::exists(dead));
    CHECK(std::filesystem::exists(other));
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    io::write_file_atomic(path, {io::bytes_of(std::string("newer"))});
    CHECK(!std::filesystem::exists(live));
    std::filesystem::remove(other);

    // a live writer in another PID namespace: its pid means nothing here (a reaped child's), but it
    // holds the lock on its temporary file, so the file stays
    const pid_t gone2 = ::fork();
    if (gone2 == 0) ::_exit(0);
    ::waitpid(gone2, nullptr, 0);
    const std::string foreign = path + ".tmp." + std::to_string(gone2);
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    const pid_t holder = ::fork();
    if (holder == 0) { // the foreign writer: creates and locks its file, then waits
        const int fd = ::open(foreign.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ::flock(fd, LOCK_EX);
        const char c = 1;
        if (::write(ready[1], &c, 1) != 1) ::_exit(1);
        ::pause();
        ::_exit(0);
    }
    char c = 0;
    REQUIRE(::read(ready[0], &c, 1) == 1);
    io::write_file_atomic(path, {io::bytes_of(std::string("newest"))});
    CHECK(std::filesystem::exists(foreign));
    ::kill(holder, SIGKILL); // the writer dies: its lock goes, the file is stale
    ::waitpid(holder, nullptr, 0);
    io::write_file_atomic(path, {io::bytes_of(std::string("last"))});
    CHECK(!std::filesystem::exists(foreign));
    ::close(ready[0]);
    ::close(ready[1]);
}

namespace {
template <class F> std::string error_of(F &&f) {
    try {
        f();
    } catch (const std::exception &e) {
        return e.what();
    }
    return "";
}
} // namespace

TEST_CASE("model files: a relu network's file does not load into a same-shaped tanh network") {
    auto relu_net = compile(softmax_cross_entropy(W2 * relu(W1 * x + b1) + b2, y));
    auto tanh_net = compile(softmax_cross_entropy(W2 * tanh(W1 * x + b1) + b2, y));
    static_assert(std::is_same_v<decltype(relu_net)::params_type, decltype(tanh_net)::params_type>); // same shapes
    auto p = relu_net.make_params();
    nn::init_uniform_fan_in(relu_net, p, 2);
    const std::string path = tmpfile("model.safetensors");
    nn::save_model(path, relu_net, p, {{"note", "relu"}});
    auto q = tanh_net.make_params();
    const std::string msg = error_of([&] { nn::load_model(path, tanh_net, q); });
    CHECK(msg == "kink: " + path + ": written by a different network: the file has\n  network softmax_cross_entropy(W2 * relu(W1 * x + b1) + b2, y)\n"
                                   "where this program has\n  network softmax_cross_entropy(W2 * tanh(W1 * x + b1) + b2, y)");
    CHECK(std::all_of(q.flat().begin(), q.flat().end(), [](float v) { return v == 0.f; })); // nothing loaded
    // a policy is part of the network: relu<one> is another program
    auto one_net = compile(softmax_cross_entropy(W2 * relu<policy::one>(W1 * x + b1) + b2, y));
    auto r = one_net.make_params();
    CHECK(error_of([&] { nn::load_model(path, one_net, r); }).find("relu<one>(W1 * x + b1)") != std::string::npos);
    // and the scalar type
    auto dnet = compile<double>(softmax_cross_entropy(W2 * relu(W1 * x + b1) + b2, y));
    auto dp = dnet.make_params();
    CHECK(error_of([&] { nn::load_model(path, dnet, dp); }).find("scalar F64") != std::string::npos);
    // the same network loads, bit for bit, and keeps the caller's metadata
    auto back = relu_net.make_params();
    const auto f = nn::load_model(path, relu_net, back);
    CHECK(std::memcmp(back.flat().data(), p.flat().data(), p.flat().size_bytes()) == 0);
    CHECK(f.metadata.at("note") == "relu");
    CHECK(f.metadata.at("kink.fingerprint") == nn::fingerprint(relu_net));
    CHECK(nn::fingerprint(relu_net) != nn::fingerprint(tanh_net));
    // a model file is not a checkpoint, and a checkpoint not a model file
    nn::adam<float> opt;
    CHECK(error_of([&] { nn::load_checkpoint(path, relu_net, back, opt); }).find("is a kink model, not a checkpoint") !=
          std::string::npos);
    // its tensors are named as the parameters, so other tools read them by those names
    CHECK(io::read_safetensors(path).tensors.count("W1") == 1);
}

TEST_CASE("checkpoints hold any optimizer's state and refuse another optimizer") {
    auto net = compile(softmax_cross_entropy(W2 * relu(W1 * x + b1) + b2, y));
    run_state<decltype(net)> st;
    nn::init_uniform_fan_in(net, st.p, 5);
    train(net, st, 1, 1);
    const std::string path = tmpfile("sgd.safetensors");
    nn::sgd<float> sgd;
    sgd.momentum = 0.9f;
    sgd.lr = 0.05f;
    auto g = net.make_params();
    std::vector<float> xs(6 * 4, 0.5f);
    std::vector<std::int32_t> ys{0, 1, 2, 0};
    for (int i = 0; i < 3; ++i) {
        net.step(st.p, g, x = std::span<const float>(xs), y = std::span<const std::int32_t>(ys));
        sgd.step(st.p, g);
    }
    nn::save_checkpoint(path, net, st.p, sgd);
    auto p2 = net.make_params();
    nn::sgd<float> sgd2;
    sgd2.momentum = 0.9f;
    sgd2.lr = 0.05f;
    nn::load_checkpoint(path, net, p2, sgd2);
    CHECK(sgd2.buf == sgd.buf);
    CHECK(sgd2.t == sgd.t);
    // the next steps agree bit for bit
    for (int i = 0; i < 2; ++i) {
        net.step(st.p, g, x = std::span<const float>(xs), y = std::span<const std::int32_t>(ys));
        sgd.step(st.p, g);
        net.step(p2, g, x = std::span<const float>(xs), y = std::span<const std::int32_t>(ys));
        sgd2.step(p2, g);
    }
    CHECK(std::memcmp(p2.flat().data(), st.p.flat().data(), p2.flat().size_bytes()) == 0);
    nn::adam<float> adam;
    CHECK(error_of([&] { nn::load_checkpoint(path, net, p2, adam); }) ==
          "kink: " + path + ": holds the state of sgd with momentum, the optimizer is adam");
    nn::adamw<float> adamw;
    nn::save_checkpoint(path, net, st.p, adamw);
    CHECK(error_of([&] { nn::load_checkpoint(path, net, p2, adam); }) == "kink: " + path + ": holds the state of adamw, the optimizer is adam");
    nn::adamw<float> adamw2;
    CHECK(error_of([&] { nn::load_checkpoint(path, net, p2, adamw2); }).empty());
}

TEST_CASE("checkpoints: step counts parse strictly") {
    auto net = compile(softmax_cross_entropy(W2 * relu(W1 * x + b1) + b2, y));
    auto p = net.make_params();
    nn::adam<float> opt;
    const std::string path = tmpfile("strict.safetensors");
    for (const char *bad : {"2x", "-7", "", "1e3", " 3"}) {
        nn::save_checkpoint(path, net, p, opt);
        auto f = io::read_safetensors(path);
        std::vector<io::tensor_out> t;
        for (const auto &[name, info] : f.tensors) t.push_back({name, info.dtype, info.shape, f.bytes(name)});
        auto meta = f.metadata;
        meta["adam.t"] = bad;
        io::write_safetensors(path, t, meta);
        CAPTURE(bad);
        CHECK(error_of([&] { nn::load_checkpoint(path, net, p, opt); }) ==
              "kink: " + path + ": metadata 'adam.t' is not a non-negative integer: '" + bad + "'");
    }
    CHECK(nn::parse_count("42", "k", "f") == 42);
}

TEST_CASE("load_state_dict: tensors matched by name, converted, every mismatch named in one message, nothing changed on error") {
    constexpr auto h = nn::batch_norm<"bn">(nn::dense<"fc1", 4>(x));
    auto net = compile<double>(softmax_cross_entropy(nn::dense<"out", 3>(relu(h)), y));
    using store = decltype(net)::params_type;
    auto p = net.make_params();
    // a state_dict as PyTorch writes it: F32 weights, BatchNorm's num_batches_tracked (I64)
    std::map<std::string, std::vector<float>> values;
    std::vector<io::tensor_out> t;
    const std::vector<std::int64_t> batches{12};
    for (std::size_t i = 0; i < store::count; ++i) {
        auto &v = values[std::string(store::names[i])];
        for (std::size_t k = 0; k < store::sizes[i]; ++k) v.push_back(0.25f * float(i) + 0.125f * float(k) + 0.1f);
        t.push_back({std::string(store::names[i]), "F32", std::vector<std::uint64_t>(store::dims[i].begin(), store::dims[i].begin() + store::ranks[i]),
                     {reinterpret_cast<const std::byte *>(v.data()), v.size() * 4}});
    }
    t.push_back({"bn.num_batches_tracked", "I64", {}, {reinterpret_cast<const std::byte *>(batches.data()), 8}});
    const std::string path = tmpfile("state_dict.safetensors");
    io::write_safetensors(path, t, {});
    nn::load_state_dict(path, net, p);
    for (std::size_t i = 0; i < store::count; ++i) {
        const auto &v = values[std::string(store::names[i])];
        for (std::size_t k = 0; k < store::sizes[i]; ++k) CHECK(p.data()[store::offsets[i] + k] == double(v[k]));
    }
    // a missing, a misshaped, an extra and an integer tensor: one message naming each; p unchanged
    const std::vector<double> before(p.flat().begin(), p.flat().end());
    std::vector<io::tensor_out> bad;
    const std::vector<float> wide(4 * 7, 1.f);
    for (const auto &e : t)
        if (e.name != "out.bias" && e.name != "fc1.weight" && e.name != "bn.running_var") bad.push_back(e);
    bad.push_back({"fc1.weight", "F32", {4, 7}, {reinterpret_cast<const std::byte *>(wide.data()), wide.size() * 4}});
    bad.push_back({"bn.running_var", "I64", {}, {reinterpret_cast<const std::byte *>(batches.data()), 8}});
    bad.push_back({"fc2.weight", "F32", {4, 7}, {reinterpret_cast<const std::byte *>(wide.data()), wide.size() * 4}});
    io::write_safetensors(path, bad, {});
    std::string msg;
    try {
        nn::load_state_dict(path, net, p);
    } catch (const io::format_error &e) {
        msg = e.what();
    }
    CHECK(msg == "kink: " + path +
                     ": the tensors do not match the network's parameters:\n"
                     "  'fc1.weight' has shape [4, 7], the network's is [4, 6]\n"
                     "  missing: 'out.bias' [3]\n"
                     "  'bn.running_var' is I64, not a floating-point tensor\n"
                     "  extra: 'fc2.weight' [4, 7] (the network has no such parameter)");
    CHECK(std::equal(before.begin(), before.end(), p.flat().begin()));
}

TEST_CASE("model files: a network differing only in an op's attribute or policy is refused, the difference named") {
    constexpr auto im = input<"im", 1, 6, 6>;
    constexpr auto K = param<"conv.weight", 2, 1, 3, 3>;
    constexpr auto V = param<"fc.weight", 3, 2>;
    auto path = tmpfile("attributes.safetensors");
    auto saved = compile_forward<double>(V * global_avg_pool(max_pool2d<pool2d{2}>(elu(conv2d<conv{.padding = 1}>(im, K), lit<1, 2>))));
    auto p = saved.make_params();
    nn::save_model(path, saved, p);
    auto refusal = [&](auto net) {
        auto q = net.make_params();
        const std::string m = error_of([&] { nn::load_model(path, net, q); });
        const std::string key = ": written by a different network: ";
        return m.find(key) == std::string::npos ? "not refused: " + m : m.substr(m.find(key) + key.size());
    };
    CHECK(refusal(compile_forward<double>(V * global_avg_pool(max_pool2d<pool2d{2}>(elu(conv2d<conv{.padding = 2}>(im, K), lit<1, 2>))))) ==
          "the file has\n  network fc.weight * global_avg_pool(max_pool2d(elu(conv2d(im, conv.weight, padding=1), 0.5), kernel=2))\n"
          "where this program has\n  network fc.weight * global_avg_pool(max_pool2d(elu(conv2d(im, conv.weight, padding=2), 0.5), kernel=2))");
    CHECK(refusal(compile_forward<double>(V * global_avg_pool(max_pool2d<pool2d{2}>(elu(conv2d<conv{.padding = 1, .dilation = 2}>(im, K), lit<1, 2>)))))
              .find("conv2d(im, conv.weight, padding=1, dilation=2)") != std::string::npos);
    CHECK(refusal(compile_forward<double>(V * global_avg_pool(max_pool2d<pool2d{2, 1}>(elu(conv2d<conv{.padding = 1}>(im, K), lit<1, 2>)))))
              .find("kernel=2, stride=1)") != std::string::npos);
    CHECK(refusal(compile_forward<double>(V * global_avg_pool(max_pool2d<pool2d{2}>(elu(conv2d<conv{.padding = 1}>(im, K), lit<1, 4>)))))
              .find("elu(conv2d(im, conv.weight, padding=1), 0.25)") != std::string::npos);
    CHECK(refusal(compile_forward<double>(V * global_avg_pool(max_pool2d<pool2d{2}, policy::split>(elu(conv2d<conv{.padding = 1}>(im, K), lit<1, 2>)))))
              .find("max_pool2d<split>(") != std::string::npos);
}

TEST_CASE("model files: a training program's model loads into the inference program of its prediction, and back") {
    const auto logits = nn::dense<"out", 3>(relu(nn::batch_norm<"bn">(nn::dense<"fc1", 8>(x))));
    auto train = compile<double>(softmax_cross_entropy(logits, y));
    auto predict = compile_forward<double>(eval_mode(logits));
    static_assert(std::is_same_v<decltype(train)::params_type, decltype(predict)::params_type>);
    auto p = train.make_params();
    nn::init_he(train, p, 3);
    const std::string path = tmpfile("served.safetensors");
    nn::save_model(path, train, p);
    CHECK(io::read_safetensors(path).metadata.at("kink.forward") == nn::network_description<decltype(predict)>());
    auto q = predict.make_params();
    nn::load_model(path, predict, q);
    CHECK(std::memcmp(q.flat().data(), p.flat().data(), p.flat().size_bytes()) == 0);
    // the inference program's own model loads into the training program
    nn::save_model(path, predict, q);
    auto r = train.make_params();
    nn::load_model(path, train, r);
    CHECK(std::memcmp(r.flat().data(), p.flat().data(), p.flat().size_bytes()) == 0);
    // another forward network is refused, its difference named against the file's forward network
    nn::save_model(path, train, p);
    auto other = compile_forward<double>(eval_mode(nn::dense<"out", 3>(tanh(nn::batch_norm<"bn">(nn::dense<"fc1", 8>(x))))));
    auto o = other.make_params();
    const std::string msg = error_of([&] { nn::load_model(path, other, o); });
    CHECK(msg == "kink: " + path + ": written by a different network: the file has\n"
                 "  network out.weight * relu(batch_norm_apply(fc1.weight * x + fc1.bias, running_stats(bn.running_mean, bn.running_var, "
                 "0.00001), bn.weight, bn.bias)) + out.bias\n"
                 "where this program has\n"
                 "  network out.weight * tanh(batch_norm_apply(fc1.weight * x + fc1.bias, running_stats(bn.running_mean, bn.running_var, "
                 "0.00001), bn.weight, bn.bias)) + out.bias");
    // a checkpoint is the training program's alone
    nn::adam<double> opt;
    nn::save_checkpoint(path, train, p, opt);
    CHECK(error_of([&] { nn::load_checkpoint(path, predict, q, opt); }).find("written by a different network") != std::string::npos);
}

TEST_CASE("model files and checkpoints record the runtime constants' values and refuse other values") {
    const auto logits = W2 * relu<policy::runtime<"relu0">>(W1 * x + b1) + b2;
    auto net = compile(softmax_cross_entropy(logits, y));
    net.constant<"relu0">(1.0);
    CHECK(net.constant_values() == "relu0=1");
    auto p = net.make_params();
    const std::string path = tmpfile("constants.safetensors");
    nn::save_model(path, net, p);
    auto other = compile(softmax_cross_entropy(logits, y)); // relu0 = 0
    auto q = other.make_params();
    CHECK(error_of([&] { nn::load_model(path, other, q); }) ==
          "kink: " + path + ": written with runtime constants relu0=1, this program has relu0=0: set them (net.constant<\"name\">(value)) before loading");
    other.constant<"relu0">(1.0);
    nn::load_model(path, other, q);
    nn::adam<float> opt;
    nn::save_checkpoint(path, net, p, opt);
    other.constant<"relu0">(0.5);
    CHECK(error_of([&] { nn::load_checkpoint(path, other, q, opt); }).find("written with runtime constants relu0=1, this program has relu0=0.5") !=
          std::string::npos);
}
