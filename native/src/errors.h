// Error reporting for the native data path and control calls.
//
// Native code never throws. A failing function returns a negative errno (or a negative
// ring code) and records a message here; the JS binding turns it into an Error with
// `code` (errno name) and, when a system call failed, `syscall`. The record is
// thread-local: each stack worker thread sees its own last error, so lastError() after
// a failed data-path call on a worker names that worker's failure.
#pragma once
#include <cstdarg>

namespace msh {

struct ErrorInfo {
  int err = 0;               // positive errno (0: none recorded)
  const char* syscall = "";  // static string, "" when no system call failed
  char message[512] = {0};
};

// Records a message (printf-style) for the current thread; errno-free failures (e.g.
// ring corruption) keep err = 0 unless set_errno_error is used.
void set_error(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
// Records a failure with its errno and, if a system call failed, its name (a string
// literal). `err` is positive (EADDRINUSE, not -EADDRINUSE).
void set_errno_error(int err, const char* syscall, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));
void clear_error();
const ErrorInfo& last_error();

}  // namespace msh
