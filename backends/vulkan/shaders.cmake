# The compute shaders of backends/vulkan/shaders, one list for the Vulkan backend (SPIR-V
# embedded in its library) and the Metal one (MSL generated from the same SPIR-V). Each entry is
# NAME, or NAME:SOURCE:DEFINE for a variant that compiles SOURCE.comp with -DDEFINE.
set(TESSEL_SHADERS unary binary raster reduce matmul conv2d conv2d_texels:conv2d:TEXELS pool
    elementwise gather select unary4 binary4 conv2d_gemm reduce_subgroup)
set(TESSEL_SHADER_DIR ${CMAKE_CURRENT_LIST_DIR}/shaders)

# The name, source file and glslc define of one entry.
function(tessel_shader_entry entry name_var source_var define_var)
  string(REPLACE ":" ";" parts ${entry})
  list(GET parts 0 name)
  set(source ${name})
  set(define "")
  list(LENGTH parts n)
  if(n EQUAL 3)
    list(GET parts 1 source)
    list(GET parts 2 d)
    set(define -D${d})
  endif()
  set(${name_var} ${name} PARENT_SCOPE)
  set(${source_var} ${TESSEL_SHADER_DIR}/${source}.comp PARENT_SCOPE)
  set(${define_var} "${define}" PARENT_SCOPE)
endfunction()

# Writes DIR/kinds.glsl: the kinds' numbers as macros (GLSL, and OpenCL C for backends/opencl),
# from the same X-macro lists as the C++ enums (rewritten only when it changes).
function(tessel_generate_kinds dir)
  set(kinds "// Generated from core/include/tessel/core/{unary,binary,reduce,pool,broadcast}.def: do not edit.\n")
  foreach(list unary binary reduce pool broadcast)
    set(def ${PROJECT_SOURCE_DIR}/core/include/tessel/core/${list}.def)
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${def})
    file(STRINGS ${def} lines REGEX "^TESSEL_")
    string(TOUPPER ${list} prefix)
    set(k 0)
    foreach(line ${lines})
      string(REGEX REPLACE "^TESSEL_[A-Z]+\\(([A-Za-z0-9]+),.*" "\\1" name "${line}")
      string(APPEND kinds "#define ${prefix}_${name} ${k}u\n")
      math(EXPR k "${k} + 1")
    endforeach()
  endforeach()
  file(MAKE_DIRECTORY ${dir})
  file(WRITE ${dir}/kinds.glsl.new "${kinds}")
  configure_file(${dir}/kinds.glsl.new ${dir}/kinds.glsl COPYONLY)
endfunction()

# Writes DIR/shader_ids.inc: `enum class Shader` (CamelCase of each entry's name, in the list's
# order) and kShaderNames, for the code every shader backend shares (backends/gpu); rewritten
# only when it changes.
function(tessel_generate_shader_ids dir)
  set(enum "")
  set(names "")
  foreach(entry ${TESSEL_SHADERS})
    tessel_shader_entry(${entry} shader source define)
    tessel_shader_camel(${shader} camel)
    string(APPEND enum "  ${camel},\n")
    string(APPEND names "    \"${shader}\",\n")
  endforeach()
  file(MAKE_DIRECTORY ${dir})
  file(WRITE ${dir}/shader_ids.inc.new
    "// Generated from backends/vulkan/shaders.cmake: do not edit.\n"
    "enum class Shader : uint8_t {\n${enum}};\n\n"
    "constexpr const char* kShaderNames[] = {\n${names}};\n")
  configure_file(${dir}/shader_ids.inc.new ${dir}/shader_ids.inc COPYONLY)
endfunction()

# The CamelCase of a shader's name (conv2d_texels: Conv2dTexels).
function(tessel_shader_camel name out_var)
  string(REPLACE "_" ";" words ${name})
  set(camel "")
  foreach(word ${words})
    string(SUBSTRING ${word} 0 1 first)
    string(TOUPPER ${first} first)
    string(SUBSTRING ${word} 1 -1 rest)
    string(APPEND camel ${first}${rest})
  endforeach()
  set(${out_var} ${camel} PARENT_SCOPE)
endfunction()
