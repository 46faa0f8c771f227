// Plain POSIX file operations behind the addon: no Napi types, so they run on libuv
// pool threads. Each function is thread-safe and reports failure through OpError.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace cairn {

/** A failed system call: errno plus where it happened, shaped like Node's fs errors. */
struct OpError {
  int err = 0;
  const char* syscall = "";
  std::string path;
  std::string dest;
  bool has_dest = false;
};

/** How a copy was made. The values travel to JavaScript: lib/fs/native-binding.ts names them. */
enum class CopyMethod : uint8_t { Clone = 0, CopyFileRange = 1, ReadWrite = 2 };

/** What a successful copy did. */
struct CopyOutcome {
  uint64_t bytes = 0;
  CopyMethod method = CopyMethod::ReadWrite;
};

/**
 * Remembers, across the items of one batch, which copy methods the file systems refused.
 * Shared by the batch's threads: a refusal seen by one spares the others the attempt.
 */
struct CopyState {
  std::atomic<bool> try_clone{true};
  std::atomic<bool> try_range_copy{true};
};

bool LinkFile(const std::string& from, const std::string& to, OpError* error);

/**
 * Copies `from` to a new file `to` (O_EXCL) and fsyncs it; limit < 0 copies the whole
 * file. Tries FICLONE, then copy_file_range, then read/write. Removes `to` on failure.
 */
bool CopyFile(const std::string& from, const std::string& to, int64_t limit, CopyState* state,
              CopyOutcome* outcome, OpError* error);

/** Opens read-only (with O_DIRECTORY when `directory`), fsyncs or fdatasyncs, closes. */
bool SyncPath(const std::string& path, bool data_only, bool directory, OpError* error);

/** Opens (creating) and flocks the lock file; *fd is the handle. *busy when held elsewhere. */
bool LockFile(const std::string& path, int* fd, bool* busy, OpError* error);

/** Releases and closes a handle from LockFile; `path` only labels errors. */
bool UnlockFile(int fd, const std::string& path, OpError* error);

bool SameDevice(const std::string& a, const std::string& b, bool* same, OpError* error);

/**
 * rename(from, to) that fails with EEXIST when `to` exists, whatever it is (renameat2 with
 * RENAME_NOREPLACE): no window in which a directory someone else just made is replaced.
 * Sets *supported = false (and returns false, `error` untouched) where the kernel or the
 * file system lacks the flag, for the caller to fall back.
 */
bool RenameNoReplace(const std::string& from, const std::string& to, bool* supported, OpError* error);

}  // namespace cairn
