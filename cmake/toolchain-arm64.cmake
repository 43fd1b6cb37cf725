# arm64 (AArch64 routers and boards), Debian arch arm64.
# cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-arm64.cmake
# (scripts/cross-build.sh arm64 installs the tools and makes the sysroot).
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(MPCONV_CROSS_ARCH arm64)
set(MPCONV_CROSS_TRIPLET aarch64-linux-gnu)
set(MPCONV_CROSS_QEMU qemu-aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/cross-debian.cmake)
