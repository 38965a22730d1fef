// Shims under which the Vulkan shaders' element functions (backends/vulkan/shaders/unary.glsl,
// binary.glsl) compile as OpenCL C: GLSL's names for what OpenCL C calls otherwise. Those files
// use abs on floats only. Built with -cl-single-precision-constant, so their literals are float.
#undef abs // a macro of the driver's headers (integer abs is not used)
#define abs fabs
#define roundEven rint
#define mod(x, y) ((x) - (y)*floor((x) / (y)))
