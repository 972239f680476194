#pragma once
/// \file
/// The safetensors format (https://huggingface.co/docs/safetensors): an 8-byte little-endian
/// header length, a JSON header `{"name": {"dtype": "F32", "shape": [..], "data_offsets": [b, e]},
/// ..., "__metadata__": {"key": "value"}}`, then the raw little-endian data.
///
/// Writing is atomic: the file is written under a temporary name in the same folder, flushed
/// to disk (fsync), renamed over the target, and the folder is synced, so a process killed at
/// any moment leaves either the previous file or the new one, never a mixture. Reading
/// validates the header length, the JSON, every dtype, shape and offset range, and that the
/// tensors tile the data exactly; each problem throws `io::format_error` naming the file.
///
/// Integrity: the writer records each tensor's CRC-32 (zlib's crc32, the checksum of gzip and
/// PNG) in the metadata as "kink.crc32:<name>" = 8 hex digits, and the metadata's own as
/// "kink.crc32"; the reader verifies every such entry, so a flipped bit in a tensor's data is
/// refused with the tensor's name, and one in the metadata (an optimizer's step count, a beta
/// power) as such. Files
/// without them (written by PyTorch's safetensors, say) are read as before. The checksums are
/// taken out of the metadata the reader returns.

#include <algorithm>
#include <cstddef>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <kink/io/atomic.hpp>
#include <kink/io/idx.hpp>

#include <zlib.h>

namespace kink::io {

/// One tensor of a safetensors file.
struct tensor_info {
    std::string dtype;
    std::vector<std::uint64_t> shape;
    std::uint64_t begin = 0, end = 0;
};

/// A tensor to write: its name, dtype ("F32", "F64", "I64", ...), shape and bytes.
struct tensor_out {
    std::string name, dtype;
    std::vector<std::uint64_t> shape;
    std::span<const std::byte> bytes;
};

inline std::size_t dtype_size(std::string_view d) {
    if (d == "F64" || d == "I64" || d == "U64") return 8;
    if (d == "F32" || d == "I32" || d == "U32") return 4;
    if (d == "F16" || d == "BF16" || d == "I16" || d == "U16") return 2;
    if (d == "I8" || d == "U8" || d == "BOOL") return 1;
    return 0;
}

namespace detail {
inline std::string json_string(std::string_view s) {
    std::string o = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') o += '\\', o += c;
        else if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            o += buf;
        } else o += c;
    }
    return o + "\"";
}

/// A small JSON reader for the safetensors header: objects, arrays, strings, non-negative
/// integers. Anything else is a format error.
struct json_reader {
    std::string_view s;
    std::string_view file;
    std::size_t i = 0;
    [[noreturn]] void bad(const std::string &what) const {
        fail(file, "safetensors header: " + what + " at byte " + std::to_string(i));
    }
    void ws() {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')) ++i;
    }
    void expect(char c) {
        ws();
        if (i >= s.size() || s[i] != c) bad(std::string("expected '") + c + "'");
        ++i;
    }
    bool peek(char c) {
        ws();
        return i < s.size() && s[i] == c;
    }
    std::string str() {
        expect('"');
        std::string o;
        while (true) {
            if (i >= s.size()) bad("unterminated string");
            const char c = s[i++];
            if (c == '"') return o;
            if (c == '\\') {
                if (i >= s.size()) bad("unterminated escape");
                const char e = s[i++];
                if (e == 'u') {
                    if (i + 4 > s.size()) bad("short \\u escape");
                    unsigned v = 0;
                    for (int k = 0; k < 4; ++k) {
                        const char h = s[i++];
                        v = v * 16 + (h >= '0' && h <= '9' ? unsigned(h - '0')
                                      : h >= 'a' && h <= 'f' ? unsigned(h - 'a' + 10)
                                      : h >= 'A' && h <= 'F' ? unsigned(h - 'A' + 10)
                                                             : (bad("bad \\u escape"), 0u));
                    }
                    if (v < 0x80) o += char(v);
                    else bad("non-ASCII \\u escape");
                } else if (e == 'n') o += '\n';
                else if (e == 't') o += '\t';
                else if (e == 'r') o += '\r';
                else if (e == 'b') o += '\b';
                else if (e == 'f') o += '\f';
                else if (e == '"' || e == '\\' || e == '/') o += e;
                else bad("bad escape");
            } else o += c;
        }
    }
    std::uint64_t integer() {
        ws();
        if (i >= s.size() || s[i] < '0' || s[i] > '9') bad("expected a non-negative integer");
        std::uint64_t v = 0;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
            if (v > (~std::uint64_t(0) - 9) / 10) bad("integer too large");
            v = v * 10 + std::uint64_t(s[i++] - '0');
        }
        return v;
    }
    std::vector<std::uint64_t> integers() {
        expect('[');
        std::vector<std::uint64_t> v;
        if (peek(']')) return ++i, v;
        while (true) {
            v.push_back(integer());
            if (v.size() > 64) bad("array too long");
            if (peek(',')) {
                ++i;
                continue;
            }
            expect(']');
            return v;
        }
    }
};
} // namespace detail

/// A parsed safetensors file: the tensors by name, the metadata, and the data bytes.
namespace detail {
/// Metadata key of a tensor's checksum.
inline constexpr std::string_view crc_prefix = "kink.crc32:";
inline std::uint32_t crc32_of(std::span<const std::byte> b) {
    uLong c = ::crc32(0L, Z_NULL, 0);
    std::size_t at = 0;
    while (at < b.size()) { // zlib takes uInt lengths
        const std::size_t n = std::min<std::size_t>(b.size() - at, std::size_t(1) << 30);
        c = ::crc32(c, reinterpret_cast<const Bytef *>(b.data() + at), static_cast<uInt>(n));
        at += n;
    }
    return static_cast<std::uint32_t>(c);
}
/// The checksum of the metadata: CRC-32 of every key and value (but the checksums), in key order,
/// each followed by a zero byte.
inline std::uint32_t metadata_crc(const std::map<std::string, std::string> &m) {
    std::string all;
    for (const auto &[k, v] : m)
        if (!std::string_view(k).starts_with("kink.crc32")) all += k + '\0' + v + '\0';
    return crc32_of(std::as_bytes(std::span<const char>(all.data(), all.size())));
}
inline std::string hex8(std::uint32_t v) {
    char b[12];
    std::snprintf(b, sizeof b, "%08x", v);
    return b;
}
} // namespace detail

struct safetensors {
    std::map<std::string, tensor_info> tensors;
    std::map<std::string, std::string> metadata;
    std::string data;
    std::span<const std::byte> bytes(const std::string &name) const {
        const tensor_info &t = tensors.at(name);
        return {reinterpret_cast<const std::byte *>(data.data()) + t.begin, t.end - t.begin};
    }
};

/// Parses the bytes of a safetensors file.
inline safetensors parse_safetensors(std::string_view bytes, std::string_view file) {
    using detail::fail;
    if (bytes.size() < 8) fail(file, "too short for a safetensors file (" + std::to_string(bytes.size()) + " bytes)");
    std::uint64_t n = 0;
    for (int k = 7; k >= 0; --k) n = n << 8 | static_cast<unsigned char>(bytes[std::size_t(k)]);
    if (n > bytes.size() - 8)
        fail(file, "header length " + std::to_string(n) + " exceeds the file (" + std::to_string(bytes.size()) + " bytes)");
    detail::json_reader r{bytes.substr(8, n), file};
    safetensors out;
    out.data.assign(bytes.substr(8 + n));
    r.expect('{');
    std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
    if (!r.peek('}')) {
        while (true) {
            const std::string name = r.str();
            r.expect(':');
            if (name == "__metadata__") {
                r.expect('{');
                if (!r.peek('}')) {
                    while (true) {
                        std::string k = r.str();
                        r.expect(':');
                        out.metadata[k] = r.str();
                        if (r.peek(',')) {
                            ++r.i;
                            continue;
                        }
                        break;
                    }
                }
                r.expect('}');
            } else {
                tensor_info t;
                bool has_dtype = false, has_shape = false, has_offsets = false;
                r.expect('{');
                while (true) {
                    const std::string k = r.str();
                    r.expect(':');
                    if (k == "dtype") t.dtype = r.str(), has_dtype = true;
                    else if (k == "shape") t.shape = r.integers(), has_shape = true;
                    else if (k == "data_offsets") {
                        const auto o = r.integers();
                        if (o.size() != 2) r.bad("data_offsets of '" + name + "' must hold two numbers");
                        t.begin = o[0], t.end = o[1], has_offsets = true;
                    } else r.bad("unknown field '" + k + "' in tensor '" + name + "'");
                    if (r.peek(',')) {
                        ++r.i;
                        continue;
                    }
                    break;
                }
                r.expect('}');
                if (!has_dtype || !has_shape || !has_offsets) fail(file, "tensor '" + name + "' lacks dtype, shape or data_offsets");
                const std::size_t es = dtype_size(t.dtype);
                if (!es) fail(file, "tensor '" + name + "' has unknown dtype '" + t.dtype + "'");
                if (t.begin > t.end || t.end > out.data.size())
                    fail(file, "tensor '" + name + "' has data_offsets [" + std::to_string(t.begin) + ", " +
                                   std::to_string(t.end) + "] outside the " + std::to_string(out.data.size()) + " data bytes");
                std::uint64_t count = 1;
                for (auto d : t.shape) {
                    if (d != 0 && count > (~std::uint64_t(0) / es) / d) fail(file, "tensor '" + name + "' shape overflows");
                    count *= d;
                }
                if (count * es != t.end - t.begin)
                    fail(file, "tensor '" + name + "' has " + std::to_string(t.end - t.begin) + " bytes for a shape of " +
                                   std::to_string(count) + " " + t.dtype + " values");
                if (!out.tensors.emplace(name, t).second) fail(file, "tensor '" + name + "' appears twice");
                ranges.emplace_back(t.begin, t.end);
            }
            if (r.peek(',')) {
                ++r.i;
                continue;
            }
            break;
        }
    }
    r.expect('}');
    r.ws();
    if (r.i != r.s.size()) r.bad("trailing characters after the header object");
    std::sort(ranges.begin(), ranges.end());
    std::uint64_t at = 0;
    for (auto [b, e] : ranges) {
        if (b != at) fail(file, "tensor data has a gap or overlap at byte " + std::to_string(at));
        at = e;
    }
    if (at != out.data.size()) fail(file, "the tensors cover " + std::to_string(at) + " of " + std::to_string(out.data.size()) + " data bytes");
    if (const auto m = out.metadata.find("kink.crc32"); m != out.metadata.end()) {
        const std::string got = detail::hex8(detail::metadata_crc(out.metadata));
        if (got != m->second)
            fail(file, "the metadata fails its checksum (CRC-32 " + got + ", recorded " + m->second + "): it was changed after it was written");
        out.metadata.erase(m);
    }
    for (auto it = out.metadata.begin(); it != out.metadata.end();) { // verify and remove the checksums
        if (!std::string_view(it->first).starts_with(detail::crc_prefix)) {
            ++it;
            continue;
        }
        const std::string name = it->first.substr(detail::crc_prefix.size());
        if (!out.tensors.count(name)) fail(file, "a checksum names tensor '" + name + "', which the file does not hold");
        const std::string got = detail::hex8(detail::crc32_of(out.bytes(name)));
        if (got != it->second)
            fail(file, "tensor '" + name + "' fails its checksum (CRC-32 " + got + ", recorded " + it->second +
                           "): its data was changed after it was written");
        it = out.metadata.erase(it);
    }
    return out;
}

inline safetensors read_safetensors(const std::string &path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) throw format_error("kink: " + path + ": is a folder, not a file");
    errno = 0;
    std::ifstream in(path, std::ios::binary);
    if (!in) throw format_error("kink: " + path + ": cannot open (" + std::string(errno ? std::strerror(errno) : "unknown reason") + ")");
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return parse_safetensors(bytes, path);
}

/// Writes `path` atomically (temporary file, fsync, rename, fsync of the folder). The header
/// is padded with spaces to a multiple of 8 bytes, as the reference implementation does.
inline void write_safetensors(const std::string &path, const std::vector<tensor_out> &tensors,
                              const std::map<std::string, std::string> &user_metadata) {
    auto metadata = user_metadata;
    for (const auto &t : tensors) metadata[std::string(detail::crc_prefix) + t.name] = detail::hex8(detail::crc32_of(t.bytes));
    metadata["kink.crc32"] = detail::hex8(detail::metadata_crc(metadata));
    std::string header = "{";
    if (!metadata.empty()) {
        header += "\"__metadata__\":{";
        bool first = true;
        for (const auto &[k, v] : metadata) {
            if (!first) header += ',';
            header += detail::json_string(k);
            header += ':';
            header += detail::json_string(v);
            first = false;
        }
        header += "}";
    }
    std::uint64_t off = 0;
    for (const auto &t : tensors) {
        if (header.size() > 1) header += ",";
        header += detail::json_string(t.name) + ":{\"dtype\":" + detail::json_string(t.dtype) + ",\"shape\":[";
        for (std::size_t i = 0; i < t.shape.size(); ++i) {
            if (i) header += ',';
            header += std::to_string(t.shape[i]);
        }
        header += "],\"data_offsets\":[" + std::to_string(off) + "," + std::to_string(off + t.bytes.size()) + "]}";
        off += t.bytes.size();
    }
    header += "}";
    while ((header.size() + 8) % 8) header += ' ';
    std::string head(8, '\0');
    for (int k = 0; k < 8; ++k) head[std::size_t(k)] = char((header.size() >> (8 * k)) & 0xff);

    std::vector<std::span<const std::byte>> pieces{bytes_of(head), bytes_of(header)};
    for (const auto &t : tensors) pieces.push_back(t.bytes);
    write_file_atomic(path, pieces);
}

} // namespace kink::io
