// Checkpoints: killing a writer at any moment leaves the previous file intact; resuming from a
// checkpoint continues bit-identically; loading refuses a network of another shape.
#include <doctest/doctest.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <random>
#include <vector>

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

template <class Store> void save(const std::string &path, const Store &p, const nn::adam<float> &opt) {
    nn::save_checkpoint(path, p, opt);
}
template <class Store> void load(const std::string &path, Store &p, nn::adam<float> &opt) { nn::load_checkpoint(path, p, opt); }
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
    save(path, first.p, first.opt);
    load(path, resumed.p, resumed.opt);
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

TEST_CASE("checkpoint: a network of another shape is refused, naming the tensor") {
    auto net = compile(softmax_cross_entropy(W2 * relu(W1 * x + b1) + b2, y));
    auto p = net.make_params();
    nn::adam<float> opt;
    opt.m.assign(p.flat().size(), 0.f);
    opt.v.assign(p.flat().size(), 0.f);
    const std::string path = tmpfile("shape.safetensors");
    save(path, p, opt);
    constexpr auto W1b = param<"W1", 9, 6>;
    constexpr auto b1b = param<"b1", 9>;
    constexpr auto W2b = param<"W2", 3, 9>;
    auto other = compile(softmax_cross_entropy(W2b * relu(W1b * x + b1b) + b2, y));
    auto q = other.make_params();
    nn::adam<float> o2;
    std::string msg;
    try {
        load(path, q, o2);
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
    for (const auto &e : std::filesystem::directory_iterator(std::filesystem::path(path).parent_path()))
        if (e.path().string().find(".tmp.") != std::string::npos) std::filesystem::remove(e.path()); // killed writers' leftovers
}
