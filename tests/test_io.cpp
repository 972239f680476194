// Data files: IDX (malformed files each give one clear error naming the file and the problem),
// gzip through zlib, safetensors (round trip, validation, atomic replacement), seeded batches.
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include <zlib.h>

#include <kink/io/idx.hpp>
#include <kink/io/safetensors.hpp>
#include <kink/nn/data.hpp>

using namespace kink;

namespace {
std::string tmpdir() {
    static const std::string d = [] {
        auto p = std::filesystem::temp_directory_path() / ("kink_test_io_" + std::to_string(::getpid()));
        std::filesystem::create_directories(p);
        return p.string();
    }();
    return d;
}
std::string put(const std::string &name, const std::string &bytes, bool gzip = false) {
    const std::string path = tmpdir() + "/" + name;
    if (gzip) {
        gzFile f = gzopen(path.c_str(), "wb");
        gzwrite(f, bytes.data(), unsigned(bytes.size()));
        gzclose(f);
    } else {
        std::ofstream(path, std::ios::binary) << bytes;
    }
    return path;
}
std::string be32(std::uint32_t v) { return {char(v >> 24), char(v >> 16), char(v >> 8), char(v)}; }
std::string idx(std::uint8_t type, std::vector<std::uint32_t> dims, std::size_t values) {
    std::string s{char(0), char(0), char(type), char(dims.size())};
    for (auto d : dims) s += be32(d);
    for (std::size_t i = 0; i < values; ++i) s += char(i % 7);
    return s;
}
std::string error_of(auto &&f) {
    try {
        f();
    } catch (const io::format_error &e) {
        return e.what();
    }
    return "no error";
}
} // namespace

TEST_CASE("idx: valid files, plain and gzip'd") {
    const auto im = io::read_idx_images(put("ok-images.gz", idx(8, {3, 2, 2}, 12), true));
    CHECK(im.count() == 3);
    CHECK(im.item_size() == 4);
    CHECK(im.data[5] == 5);
    const auto lb = io::read_idx_labels(put("ok-labels", idx(8, {3}, 3)), 10);
    CHECK(lb.data == std::vector<std::uint8_t>{0, 1, 2});
}

TEST_CASE("idx: every malformed file is refused with the file's name and the problem") {
    const std::string p = tmpdir() + "/";
    CHECK(error_of([&] { io::read_idx_images(put("empty", "")); }) == "kink: " + p + "empty: too short for an IDX header (0 bytes)");
    CHECK(error_of([&] { io::read_idx_images(put("magic", "\x01\x00\x08\x03" + be32(1) + be32(1) + be32(1) + "x")); }) ==
          "kink: " + p + "magic: not an IDX file (the first two bytes must be zero; is it still gzip-compressed?)");
    CHECK(error_of([&] { io::read_idx_images(put("type", idx(0x0D, {1, 1, 1}, 1))); }) ==
          "kink: " + p + "type: IDX value type 0x0d is not 0x08 (unsigned bytes)");
    CHECK(error_of([&] { io::read_idx_images(put("rank", idx(8, {4}, 4))); }) == "kink: " + p + "rank: has 1 dimensions, expected 3");
    CHECK(error_of([&] { io::read_idx_images(put("zero", idx(8, {2, 0, 3}, 0))); }) == "kink: " + p + "zero: dimension 1 is zero");
    CHECK(error_of([&] { io::read_idx_images(put("huge", idx(8, {60000, 60000, 60000}, 0))); }) ==
          "kink: " + p + "huge: dimensions describe more than 2^30 values: a corrupt header");
    CHECK(error_of([&] { io::read_idx_images(put("header", std::string("\0\0\x08\x03", 4) + be32(2))); }) ==
          "kink: " + p + "header: truncated header: 8 bytes");
    CHECK(error_of([&] { io::read_idx_images(put("short", idx(8, {2, 2, 2}, 7))); }) ==
          "kink: " + p + "short: truncated: the header promises 8 values, the file holds 7");
    CHECK(error_of([&] { io::read_idx_images(put("long", idx(8, {2, 2, 2}, 10))); }) ==
          "kink: " + p + "long: has 2 bytes after the 8 values the header describes");
    CHECK(error_of([&] { io::read_idx_labels(put("labels", idx(8, {12}, 12)), 6); }) ==
          "kink: " + p + "labels: label 6 is 6, outside [0, 6)");
    CHECK(error_of([&] { io::read_idx_images(p + "missing"); }) == "kink: " + p + "missing: cannot open (No such file or directory)");
    // a gzip stream cut in half
    const std::string gz = p + "cut.gz";
    put("cut.gz", idx(8, {50, 4, 4}, 800), true);
    std::string bytes;
    {
        std::ifstream in(gz, std::ios::binary);
        bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    put("cut.gz", bytes.substr(0, bytes.size() / 2));
    CHECK(error_of([&] { io::read_idx_images(gz); }).starts_with("kink: " + gz + ": corrupt gzip data"));
    // image and label counts that disagree
    const auto i3 = put("i3", idx(8, {3, 1, 1}, 3)), l4 = put("l4", idx(8, {4}, 4));
    CHECK(error_of([&] { io::read_labelled_images(i3, l4, 10); }) == "kink: " + i3 + " holds 3 images but " + l4 + " holds 4 labels");
}

TEST_CASE("safetensors: round trip, metadata, and every malformed header refused") {
    const std::vector<float> a{1.5f, -2.f, 3.25f, 0.f, 7.f, 8.f};
    const std::vector<double> b{0.1, 0.2};
    const std::string path = tmpdir() + "/t.safetensors";
    io::write_safetensors(path,
                          {{"a", "F32", {2, 3}, {reinterpret_cast<const std::byte *>(a.data()), a.size() * 4}},
                           {"b", "F64", {2}, {reinterpret_cast<const std::byte *>(b.data()), b.size() * 8}}},
                          {{"note", "quote \" and backslash \\"}});
    const auto f = io::read_safetensors(path);
    CHECK(f.metadata.at("note") == "quote \" and backslash \\");
    CHECK(f.tensors.at("a").shape == std::vector<std::uint64_t>{2, 3});
    std::vector<float> back(6);
    std::memcpy(back.data(), f.bytes("a").data(), 24);
    CHECK(back == a);
    CHECK(!std::filesystem::exists(path + ".tmp." + std::to_string(::getpid())));

    auto file = [](const std::string &header, std::size_t data) {
        std::string s(8, '\0');
        for (int k = 0; k < 8; ++k) s[std::size_t(k)] = char((header.size() >> (8 * k)) & 0xff);
        return s + header + std::string(data, '\0');
    };
    auto err = [&](const std::string &bytes) { return error_of([&] { io::parse_safetensors(bytes, "f"); }); };
    CHECK(err("abc") == "kink: f: too short for a safetensors file (3 bytes)");
    CHECK(err(std::string("\xff\0\0\0\0\0\0\0", 8) + "{}") == "kink: f: header length 255 exceeds the file (10 bytes)");
    CHECK(err(file(R"({"a":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}})", 4)) == "kink: f: tensor 'a' has unknown dtype 'F33'");
    CHECK(err(file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 4)) ==
          "kink: f: tensor 'a' has 4 bytes for a shape of 2 F32 values");
    CHECK(err(file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}})", 4)) ==
          "kink: f: tensor 'a' has data_offsets [0, 8] outside the 4 data bytes");
    CHECK(err(file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8)) == "kink: f: tensor data has a gap or overlap at byte 0");
    CHECK(err(file(R"({"a":{"dtype":"F32","shape":[1]}})", 0)) == "kink: f: tensor 'a' lacks dtype, shape or data_offsets");
    CHECK(err(file(R"({"a":)", 0)).starts_with("kink: f: safetensors header: expected '{'"));
    CHECK(err(file(R"({} x)", 0)) == "kink: f: safetensors header: trailing characters after the header object at byte 3");
}

TEST_CASE("safetensors: each tensor's CRC-32 is written and verified; a flipped bit is refused with the tensor's name") {
    const std::vector<float> a{1.5f, -2.f, 3.25f, 0.f};
    const std::vector<double> b{0.1, 0.2};
    const std::string path = tmpdir() + "/c.safetensors";
    io::write_safetensors(path,
                          {{"layer.weight", "F32", {4}, {reinterpret_cast<const std::byte *>(a.data()), a.size() * 4}},
                           {"b", "F64", {2}, {reinterpret_cast<const std::byte *>(b.data()), b.size() * 8}}},
                          {{"note", "n"}});
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // zlib's crc32 of the four floats, as Python's zlib.crc32(struct.pack("<4f", 1.5, -2, 3.25, 0)) gives
    CHECK(bytes.find("\"kink.crc32:layer.weight\":\"" + std::string("e2c238aa") + "\"") != std::string::npos);
    const auto f = io::parse_safetensors(bytes, "c");
    CHECK(f.metadata == std::map<std::string, std::string>{{"note", "n"}}); // the checksums are the reader's
    auto err = [&](const std::string &bs) { return error_of([&] { io::parse_safetensors(bs, "c"); }); };
    const std::size_t data = bytes.size() - 32; // the first tensor's first byte (32 data bytes in all)
    for (int bit = 0; bit < 8; ++bit) {
        std::string flipped = bytes;
        flipped[data + 2] = char(flipped[data + 2] ^ (1 << bit));
        CHECK(err(flipped).starts_with("kink: c: tensor 'layer.weight' fails its checksum (CRC-32 "));
    }
    std::string last = bytes;
    last.back() = char(last.back() ^ 1);
    CHECK(err(last).starts_with("kink: c: tensor 'b' fails its checksum"));
    // the metadata has its own checksum: a changed value is refused
    std::string edited = bytes;
    edited[edited.find("\"note\":\"n\"") + 8] = 'm';
    CHECK(err(edited).starts_with("kink: c: the metadata fails its checksum (CRC-32 "));
    // a file without checksums (PyTorch's) reads as before; a checksum of a tensor the file lacks is refused
    auto file = [](const std::string &header, std::size_t n) {
        std::string s(8, '\0');
        for (int k = 0; k < 8; ++k) s[std::size_t(k)] = char((header.size() >> (8 * k)) & 0xff);
        return s + header + std::string(n, '\0');
    };
    CHECK(io::parse_safetensors(file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 4), "p").tensors.size() == 1);
    CHECK(err(file(R"({"__metadata__":{"kink.crc32:z":"00000000"},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 4)) ==
          "kink: c: a checksum names tensor 'z', which the file does not hold");
}

TEST_CASE("batches: a seed gives the same batches, epochs differ, every sample once") {
    std::vector<float> x(10 * 2);
    std::vector<std::int32_t> y(10);
    for (int i = 0; i < 10; ++i) x[std::size_t(2 * i)] = float(i), y[std::size_t(i)] = i;
    auto order = [&](std::uint64_t seed, std::uint64_t epoch) {
        nn::batcher b(x, y, 2, 4, seed);
        b.shuffle(epoch);
        std::vector<int> seen;
        while (std::size_t n = b.next())
            for (std::size_t i = 0; i < n; ++i) {
                CHECK(b.x(n)[2 * i] == float(b.y(n)[i]));
                seen.push_back(b.y(n)[i]);
            }
        return seen;
    };
    const auto a = order(5, 1);
    CHECK(a == order(5, 1));
    CHECK(a != order(5, 2));
    CHECK(a != order(6, 1));
    auto sorted = a;
    std::sort(sorted.begin(), sorted.end());
    CHECK(sorted == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
    // the exact order of seed 5, epoch 1 (a change here changes every user's batches)
    CHECK(a == std::vector<int>{6, 8, 4, 9, 0, 3, 2, 1, 7, 5});
}

TEST_CASE("a missing file and a folder in a file's place are refused with the reason") {
    const std::string dir = tmpdir();
    CHECK(error_of([&] { io::read_safetensors(dir + "/none.safetensors"); }) ==
          "kink: " + dir + "/none.safetensors: cannot open (No such file or directory)");
    CHECK(error_of([&] { io::read_safetensors(dir); }) == "kink: " + dir + ": is a folder, not a file");
    CHECK(error_of([&] { io::read_idx_images(dir + "/none-idx3-ubyte.gz"); }) ==
          "kink: " + dir + "/none-idx3-ubyte.gz: cannot open (No such file or directory)");
    CHECK(error_of([&] { io::read_idx_images(dir); }) == "kink: " + dir + ": is a folder, not a file");
}
