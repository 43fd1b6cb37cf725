# mipsel (little-endian MIPS32r2: MT7621-class routers), Debian arch mipsel.
# cmake -S . -B build-mipsel -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-mipsel.cmake
# (scripts/cross-build.sh mipsel installs the tools and makes the sysroot).
set(CMAKE_SYSTEM_PROCESSOR mipsel)
set(MPCONV_CROSS_ARCH mipsel)
set(MPCONV_CROSS_TRIPLET mipsel-linux-gnu)
set(MPCONV_CROSS_QEMU qemu-mipsel)
include(${CMAKE_CURRENT_LIST_DIR}/cross-debian.cmake)
