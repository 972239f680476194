#pragma once
/// \file
/// Atomic replacement of a file: the bytes go to a temporary file in the same folder, which is
/// flushed to disk (fsync), renamed over the target, and the folder is synced. A process killed
/// at any moment leaves the previous file or the new one, never a mixture. Checkpoints and
/// training curves are written this way.

#include <cerrno>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include <kink/io/idx.hpp>

namespace kink::io {

/// Replaces `path` with the concatenation of `pieces`, atomically.
inline void write_file_atomic(const std::string &path, const std::vector<std::span<const std::byte>> &pieces) {
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) throw format_error("kink: " + tmp + ": cannot create (" + std::strerror(errno) + ")");
    for (std::span<const std::byte> piece : pieces) {
        const std::byte *c = piece.data();
        std::size_t n = piece.size();
        while (n) {
            const ssize_t w = ::write(fd, c, n);
            if (w < 0) {
                if (errno == EINTR) continue;
                const std::string why = std::strerror(errno);
                ::close(fd);
                ::unlink(tmp.c_str());
                throw format_error("kink: " + tmp + ": write failed (" + why + "); " + path + " is unchanged");
            }
            c += w;
            n -= std::size_t(w);
        }
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
        ::unlink(tmp.c_str());
        throw format_error("kink: " + tmp + ": flush failed; " + path + " is unchanged");
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        const std::string why = std::strerror(errno);
        ::unlink(tmp.c_str());
        throw format_error("kink: cannot rename " + tmp + " to " + path + " (" + why + ")");
    }
    const std::size_t slash = path.find_last_of('/');
    const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
}

/// The bytes of a string, for write_file_atomic.
inline std::span<const std::byte> bytes_of(const std::string &s) { return std::as_bytes(std::span(s.data(), s.size())); }

} // namespace kink::io
