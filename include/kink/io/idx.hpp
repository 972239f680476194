#pragma once
/// \file
/// IDX files (the MNIST family's format), gzip'd or plain, read with every field validated.
///
/// An IDX file is: two zero bytes, a type byte (0x08: unsigned bytes, the only type the MNIST
/// family uses), the number of dimensions, each dimension as a big-endian 32-bit count, then the
/// values. Every malformed input throws `io::format_error` naming the file and what is wrong:
/// bad magic, unsupported type, wrong rank, zero or absurd dimensions, truncated or overlong
/// data, a gzip stream that does not decompress, labels out of range, image and label counts
/// that disagree. Nothing is read past the data, nothing crashes (a libFuzzer target checks
/// `parse_idx` on arbitrary bytes: tests/fuzz_idx.cpp).
///
/// gzip is read with zlib (Debian's zlib1g-dev): the reference implementation, on every system.

#include <cstddef>
#include <cstdint>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <zlib.h>

namespace kink::io {

/// A malformed or unreadable data file; what() names the file and the problem.
struct format_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// A parsed IDX file of unsigned bytes.
struct idx_array {
    std::vector<std::uint32_t> dims;
    std::vector<std::uint8_t> data;
    std::size_t count() const { return dims.empty() ? 0 : dims[0]; }
    /// Values per item (the product of the dimensions after the first).
    std::size_t item_size() const {
        std::size_t n = 1;
        for (std::size_t i = 1; i < dims.size(); ++i) n *= dims[i];
        return n;
    }
};

namespace detail {
[[noreturn]] inline void fail(std::string_view file, const std::string &what) {
    throw format_error("kink: " + std::string(file) + ": " + what);
}
} // namespace detail

/// Largest number of values accepted from one file (1 GiB): larger headers are corrupt.
inline constexpr std::uint64_t idx_max_values = std::uint64_t(1) << 30;

/// Parses the bytes of an (uncompressed) IDX file of unsigned bytes with `rank` dimensions.
inline idx_array parse_idx(std::string_view bytes, std::size_t rank, std::string_view file) {
    using detail::fail;
    const auto *p = reinterpret_cast<const unsigned char *>(bytes.data());
    if (bytes.size() < 4) fail(file, "too short for an IDX header (" + std::to_string(bytes.size()) + " bytes)");
    if (p[0] != 0 || p[1] != 0)
        fail(file, "not an IDX file (the first two bytes must be zero; is it still gzip-compressed?)");
    if (p[2] != 0x08) {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02x", p[2]);
        fail(file, "IDX value type " + std::string(hex) + " is not 0x08 (unsigned bytes)");
    }
    if (p[3] != rank)
        fail(file, "has " + std::to_string(p[3]) + " dimensions, expected " + std::to_string(rank));
    const std::size_t header = 4 + 4 * rank;
    if (bytes.size() < header) fail(file, "truncated header: " + std::to_string(bytes.size()) + " bytes");
    idx_array out;
    std::uint64_t values = 1;
    for (std::size_t d = 0; d < rank; ++d) {
        const unsigned char *q = p + 4 + 4 * d;
        const std::uint32_t n = std::uint32_t(q[0]) << 24 | std::uint32_t(q[1]) << 16 | std::uint32_t(q[2]) << 8 | q[3];
        if (n == 0) fail(file, "dimension " + std::to_string(d) + " is zero");
        values *= n;
        if (values > idx_max_values) fail(file, "dimensions describe more than 2^30 values: a corrupt header");
        out.dims.push_back(n);
    }
    const std::uint64_t have = bytes.size() - header;
    if (have < values)
        fail(file, "truncated: the header promises " + std::to_string(values) + " values, the file holds " +
                       std::to_string(have));
    if (have > values)
        fail(file, "has " + std::to_string(have - values) + " bytes after the " + std::to_string(values) +
                       " values the header describes");
    out.data.assign(p + header, p + header + values);
    return out;
}

/// The whole content of a file, gunzipped when it is gzip (transparently plain otherwise).
inline std::string read_maybe_gzip(const std::string &path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) throw format_error("kink: " + path + ": is a folder, not a file");
    errno = 0;
    gzFile f = gzopen(path.c_str(), "rb");
    if (!f) throw format_error("kink: " + path + ": cannot open (" + std::string(errno ? std::strerror(errno) : "out of memory") + ")");
    std::string out;
    char buf[1 << 16];
    while (true) {
        const int n = gzread(f, buf, sizeof buf);
        if (n < 0) {
            int code = 0;
            const std::string msg = gzerror(f, &code);
            gzclose(f);
            throw format_error("kink: " + path + ": corrupt gzip data (" + msg + ")");
        }
        if (n == 0) break;
        out.append(buf, std::size_t(n));
        if (out.size() > idx_max_values + 64) {
            gzclose(f);
            throw format_error("kink: " + path + ": decompresses to more than 1 GiB");
        }
    }
    const int rc = gzclose(f);
    if (rc != Z_OK) throw format_error("kink: " + path + ": corrupt gzip data (truncated or bad checksum)");
    return out;
}

/// Reads an IDX file of images (rank 3: count x rows x cols).
inline idx_array read_idx_images(const std::string &path) { return parse_idx(read_maybe_gzip(path), 3, path); }

/// Reads an IDX file of labels (rank 1), each checked to be below `classes`.
inline idx_array read_idx_labels(const std::string &path, std::size_t classes) {
    idx_array a = parse_idx(read_maybe_gzip(path), 1, path);
    for (std::size_t i = 0; i < a.data.size(); ++i)
        if (a.data[i] >= classes)
            detail::fail(path, "label " + std::to_string(i) + " is " + std::to_string(a.data[i]) + ", outside [0, " +
                                   std::to_string(classes) + ")");
    return a;
}

/// A labelled image set as the network sees it: pixels scaled to [0, 1], labels as integers;
/// `dims` are one image's dimensions as the file gives them (28 x 28 for Fashion-MNIST), and
/// `images` names the file they came from (for messages).
struct labelled_images {
    std::size_t count = 0, features = 0;
    std::vector<std::size_t> dims;
    std::string images;
    std::vector<float> x;
    std::vector<std::int32_t> y;
    /// "28 x 28": one image's dimensions.
    std::string dims_text() const {
        std::string s;
        for (std::size_t d : dims) s += (s.empty() ? "" : " x ") + std::to_string(d);
        return s;
    }
};

/// Images and labels from two IDX files whose counts must agree.
inline labelled_images read_labelled_images(const std::string &images, const std::string &labels, std::size_t classes) {
    const idx_array im = read_idx_images(images);
    const idx_array lb = read_idx_labels(labels, classes);
    if (im.count() != lb.count())
        throw format_error("kink: " + images + " holds " + std::to_string(im.count()) + " images but " + labels +
                           " holds " + std::to_string(lb.count()) + " labels");
    labelled_images out;
    out.count = im.count();
    out.features = im.item_size();
    out.dims.assign(im.dims.begin() + 1, im.dims.end());
    out.images = images;
    out.x.resize(im.data.size());
    for (std::size_t i = 0; i < im.data.size(); ++i) out.x[i] = float(im.data[i]) / 255.f;
    out.y.assign(lb.data.begin(), lb.data.end());
    return out;
}

/// Debian's dataset-fashion-mnist: `split` is "train" (60000) or "t10k" (10000).
inline labelled_images fashion_mnist(std::string_view split, const std::string &dir = "/usr/share/datasets/fashion-mnist") {
    const std::string s(split);
    return read_labelled_images(dir + "/" + s + "-images-idx3-ubyte.gz", dir + "/" + s + "-labels-idx1-ubyte.gz", 10);
}

} // namespace kink::io
