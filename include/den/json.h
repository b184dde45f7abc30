// One JSON type for the whole code base. ordered_json keeps keys in insertion
// order, so `inspect` and `{{json .}}` print fields in docker's order.
#pragma once

#include <nlohmann/json.hpp>

namespace den {
using Json = nlohmann::ordered_json;
}
