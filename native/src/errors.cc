#include "errors.h"

#include <cstdio>

namespace msh {

static thread_local ErrorInfo t_error;

void set_error(const char* fmt, ...) {
  t_error.err = 0;
  t_error.syscall = "";
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(t_error.message, sizeof t_error.message, fmt, ap);
  va_end(ap);
}

void set_errno_error(int err, const char* syscall, const char* fmt, ...) {
  t_error.err = err < 0 ? -err : err;
  t_error.syscall = syscall ? syscall : "";
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(t_error.message, sizeof t_error.message, fmt, ap);
  va_end(ap);
}

void clear_error() {
  t_error.err = 0;
  t_error.syscall = "";
  t_error.message[0] = 0;
}

const ErrorInfo& last_error() { return t_error; }

}  // namespace msh
