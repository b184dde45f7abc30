// Which fields of docker's inspect types are slices, maps and pointers, so
// that a null in den's inspect JSON prints in a template as docker's typed
// nil does ({{.Config.Entrypoint}} "[]", {{.Config.Volumes}} "map[]",
// {{.State.Health}} "<nil>"; see GoNil in den/template.h). From docker's
// types.ContainerJSON and types.ImageInspect.
#pragma once

#include <vector>

#include "den/template.h"

namespace den {

const std::vector<GoNilField>& container_inspect_nils();
const std::vector<GoNilField>& image_inspect_nils();

// Which objects of docker's inspect types are maps and which struct fields
// are pointers (GoShape in den/template.h), so {{.State}} prints as Go's
// struct "{running true ...}" and {{.Config.Labels}} as "map[k:v]".
const GoShape& container_inspect_shape();
const GoShape& image_inspect_shape();

}  // namespace den
