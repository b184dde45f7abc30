#include "den/error.h"

#include <cerrno>
#include <cstring>

namespace den {

Error& Error::context(std::string_view ctx) {
  message_ = fmt::format("{}: {}", ctx, message_);
  rebuild();
  return *this;
}

void Error::rebuild() {
  full_ = message_;
  if (errno_ != 0) {
    full_ += ": ";
    full_ += std::strerror(errno_);
  }
}

Error sys_error(std::string message, int err) {
  Errc code = Errc::Generic;
  if (err == ENOENT) code = Errc::NotFound;
  else if (err == EEXIST) code = Errc::Exists;
  else if (err == EBUSY) code = Errc::InUse;
  return Error(std::move(message), code, err);
}

Error sys_error(std::string message) { return sys_error(std::move(message), errno); }

}  // namespace den
