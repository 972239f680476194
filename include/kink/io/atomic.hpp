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

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/types.h>
#include <unistd.h>

#include <kink/io/idx.hpp>

namespace kink::io {

/// Removes `<path>.tmp.<pid>` files left by writers that were killed mid-way. A writer holds an
/// advisory lock (flock) on its temporary file until it has renamed it, and the kernel drops the
/// lock when the writer dies: a file whose lock can be taken, and whose process is gone here
/// (kill(pid, 0) fails with ESRCH), is stale. The lock is what protects a live writer in another
/// PID namespace (a container sharing the folder), where its pid means nothing.
inline std::size_t remove_stale_temporaries(const std::string &path) {
    const std::size_t slash = path.find_last_of('/');
    const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
    const std::string prefix = (slash == std::string::npos ? path : path.substr(slash + 1)) + ".tmp.";
    std::size_t removed = 0;
    DIR *d = ::opendir(dir.c_str());
    if (!d) return 0;
    while (const dirent *e = ::readdir(d)) {
        const std::string name = e->d_name;
        if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
        const std::string digits = name.substr(prefix.size());
        if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
        const pid_t pid = static_cast<pid_t>(std::stol(digits));
        if (pid != ::getpid() && !(::kill(pid, 0) != 0 && errno == ESRCH)) continue; // a live process here
        const std::string file = dir + (slash == std::string::npos ? "/" : "") + name;
        const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        if (::flock(fd, LOCK_EX | LOCK_NB) == 0) removed += ::unlink(file.c_str()) == 0; // no writer holds it
        ::close(fd);
    }
    ::closedir(d);
    return removed;
}

/// Replaces `path` with the concatenation of `pieces`, atomically. Afterwards it removes the
/// temporary files of earlier writers of `path` that were killed before they could rename theirs.
inline void write_file_atomic(const std::string &path, const std::vector<std::span<const std::byte>> &pieces) {
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw format_error("kink: " + tmp + ": cannot create (" + std::strerror(errno) + ")");
    ::flock(fd, LOCK_EX); // held until the rename: remove_stale_temporaries leaves a locked file alone
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
    if (::fsync(fd) != 0) {
        ::close(fd);
        ::unlink(tmp.c_str());
        throw format_error("kink: " + tmp + ": flush failed; " + path + " is unchanged");
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        const std::string why = std::strerror(errno);
        ::close(fd);
        ::unlink(tmp.c_str());
        throw format_error("kink: cannot rename " + tmp + " to " + path + " (" + why + ")");
    }
    if (::close(fd) != 0) throw format_error("kink: " + path + ": close failed after writing (" + std::string(std::strerror(errno)) + ")");
    const std::size_t slash = path.find_last_of('/');
    const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
    remove_stale_temporaries(path);
}

/// The bytes of a string, for write_file_atomic.
inline std::span<const std::byte> bytes_of(const std::string &s) { return std::as_bytes(std::span(s.data(), s.size())); }

} // namespace kink::io
