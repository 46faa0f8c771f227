// Plain POSIX file operations behind the addon; see posix-ops.h. Thread-safe: every
// function works only on its arguments, the descriptors it opens and an atomic CopyState.
#include "posix-ops.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#ifndef FICLONE
#define FICLONE _IOW(0x94, 9, int)
#endif

namespace cairn {
namespace {

constexpr size_t kCopyBuffer = 1 << 20;
// copy_file_range takes a size_t; bounded chunks keep each call short.
constexpr uint64_t kRangeChunk = 1 << 30;

template <typename Call>
auto RetryOnEintr(Call call) -> decltype(call()) {
  decltype(call()) result;
  do {
    result = call();
  } while (result == -1 && errno == EINTR);
  return result;
}

bool Fail(OpError* error, const char* syscall, const std::string& path) {
  error->err = errno;
  error->syscall = syscall;
  error->path = path;
  error->has_dest = false;
  return false;
}

bool FailPair(OpError* error, const char* syscall, const std::string& path, const std::string& dest) {
  Fail(error, syscall, path);
  error->dest = dest;
  error->has_dest = true;
  return false;
}

// Linux closes the descriptor even when close() reports EINTR, so never retry it.
bool CloseChecked(int fd, const std::string& path, OpError* error) {
  if (close(fd) == 0) return true;
  return Fail(error, "close", path);
}

bool CloneUnsupported(int err) {
  return err == EOPNOTSUPP || err == ENOTTY || err == EINVAL || err == EXDEV || err == ENOSYS || err == EBADF;
}

bool RangeCopyUnsupported(int err) {
  return err == EXDEV || err == ENOSYS || err == EOPNOTSUPP || err == EINVAL;
}

// Called directly rather than through glibc so a prebuild does not need glibc >= 2.27,
// and an old kernel answers ENOSYS, which falls back to read/write.
ssize_t CopyFileRange(int in, int out, size_t length) {
  return static_cast<ssize_t>(syscall(SYS_copy_file_range, in, nullptr, out, nullptr, length, 0u));
}

bool CopyByReadWrite(int src, int dst, const std::string& from, const std::string& to, uint64_t wanted,
                     uint64_t* bytes, OpError* error) {
  std::vector<char> buffer(kCopyBuffer);
  uint64_t done = 0;
  while (done < wanted) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(buffer.size(), wanted - done));
    ssize_t got = RetryOnEintr([&] { return read(src, buffer.data(), want); });
    if (got < 0) return Fail(error, "read", from);
    if (got == 0) break;
    size_t written = 0;
    while (written < static_cast<size_t>(got)) {
      ssize_t n = RetryOnEintr([&] { return write(dst, buffer.data() + written, got - written); });
      if (n < 0) return Fail(error, "write", to);
      written += static_cast<size_t>(n);
    }
    done += static_cast<uint64_t>(got);
  }
  *bytes = done;
  return true;
}

// Copies the contents of an open source into an open, empty destination.
bool CopyContents(int src, int dst, const std::string& from, const std::string& to,
                  int64_t limit, CopyState* state, CopyOutcome* outcome, OpError* error) {
  if (limit < 0 && state->try_clone) {
    if (ioctl(dst, FICLONE, src) == 0) {
      struct stat cloned;
      if (fstat(dst, &cloned) != 0) return Fail(error, "fstat", to);
      outcome->bytes = static_cast<uint64_t>(cloned.st_size);
      outcome->method = CopyMethod::Clone;
      return true;
    }
    if (!CloneUnsupported(errno)) return FailPair(error, "ioctl", from, to);
    // One refusal is enough: the rest of the batch almost always shares the file systems.
    state->try_clone = false;
  }

  const uint64_t wanted = limit < 0 ? UINT64_MAX : static_cast<uint64_t>(limit);
  uint64_t done = 0;
  if (state->try_range_copy && wanted > 0) {
    bool fall_back = false;
    while (done < wanted) {
      size_t chunk = static_cast<size_t>(std::min(wanted - done, kRangeChunk));
      ssize_t n = RetryOnEintr([&] { return CopyFileRange(src, dst, chunk); });
      if (n < 0) {
        if (done == 0 && RangeCopyUnsupported(errno)) {
          // This pair of file systems cannot do it; neither will the rest of the batch.
          state->try_range_copy = false;
          fall_back = true;
          break;
        }
        return FailPair(error, "copy_file_range", from, to);
      }
      // 0 before any byte is either an empty file or a file system (procfs-like) that
      // hides its size from copy_file_range; read/write tells the two apart.
      if (n == 0) {
        fall_back = done == 0;
        break;
      }
      done += static_cast<uint64_t>(n);
    }
    if (!fall_back) {
      outcome->bytes = done;
      outcome->method = CopyMethod::CopyFileRange;
      return true;
    }
  }

  if (!CopyByReadWrite(src, dst, from, to, wanted, &outcome->bytes, error)) return false;
  outcome->method = CopyMethod::ReadWrite;
  return true;
}

}  // namespace

bool LinkFile(const std::string& from, const std::string& to, OpError* error) {
  if (link(from.c_str(), to.c_str()) == 0) return true;
  return FailPair(error, "link", from, to);
}

bool CopyFile(const std::string& from, const std::string& to, int64_t limit, CopyState* state,
              CopyOutcome* outcome, OpError* error) {
  int src = RetryOnEintr([&] { return open(from.c_str(), O_RDONLY | O_CLOEXEC); });
  if (src < 0) return Fail(error, "open", from);
  struct stat source_stat;
  if (fstat(src, &source_stat) != 0) {
    Fail(error, "fstat", from);
    close(src);
    return false;
  }
  // Refuse before creating the destination, with the errno read(2) would give.
  if (S_ISDIR(source_stat.st_mode)) {
    errno = EISDIR;
    Fail(error, "read", from);
    close(src);
    return false;
  }
  int dst = RetryOnEintr(
      [&] { return open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, source_stat.st_mode & 0777); });
  if (dst < 0) {
    Fail(error, "open", to);
    close(src);
    return false;
  }

  bool ok = CopyContents(src, dst, from, to, limit, state, outcome, error);
  if (ok && fsync(dst) != 0) ok = Fail(error, "fsync", to);
  close(src);
  if (ok) {
    ok = CloseChecked(dst, to, error);
  } else {
    close(dst);
  }
  // A partial copy must never be mistaken for a finished one.
  if (!ok) unlink(to.c_str());
  return ok;
}

bool SyncPath(const std::string& path, bool data_only, bool directory, OpError* error) {
  int flags = O_RDONLY | O_CLOEXEC | (directory ? O_DIRECTORY : 0);
  int fd = RetryOnEintr([&] { return open(path.c_str(), flags); });
  if (fd < 0) return Fail(error, "open", path);
  int rc = data_only ? fdatasync(fd) : fsync(fd);
  if (rc != 0) {
    Fail(error, data_only ? "fdatasync" : "fsync", path);
    close(fd);
    return false;
  }
  return CloseChecked(fd, path, error);
}

bool LockFile(const std::string& path, int* fd, bool* busy, OpError* error) {
  *busy = false;
  int lock_fd = RetryOnEintr([&] { return open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644); });
  if (lock_fd < 0) return Fail(error, "open", path);
  if (RetryOnEintr([&] { return flock(lock_fd, LOCK_EX | LOCK_NB); }) != 0) {
    *busy = errno == EWOULDBLOCK;
    Fail(error, "flock", path);
    close(lock_fd);
    return false;
  }
  *fd = lock_fd;
  return true;
}

bool UnlockFile(int fd, const std::string& path, OpError* error) {
  bool ok = true;
  if (flock(fd, LOCK_UN) != 0) ok = Fail(error, "flock", path);
  // Closing releases the lock even when LOCK_UN failed, so always close.
  if (close(fd) != 0 && ok) ok = Fail(error, "close", path);
  return ok;
}

bool SameDevice(const std::string& a, const std::string& b, bool* same, OpError* error) {
  struct stat sa;
  struct stat sb;
  if (stat(a.c_str(), &sa) != 0) return Fail(error, "stat", a);
  if (stat(b.c_str(), &sb) != 0) return Fail(error, "stat", b);
  *same = sa.st_dev == sb.st_dev;
  return true;
}

bool RenameNoReplace(const std::string& from, const std::string& to, bool* supported, OpError* error) {
  *supported = true;
#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
  long rc = syscall(SYS_renameat2, AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE);
  if (rc == 0) return true;
  // An old kernel (ENOSYS) or a file system without the flag (EINVAL): the caller falls back.
  if (errno == ENOSYS || errno == EINVAL) {
    *supported = false;
    return false;
  }
  return FailPair(error, "rename", from, to);
}

}  // namespace cairn
