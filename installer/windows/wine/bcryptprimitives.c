/* bcryptprimitives.dll for Wine 8 (Debian 12), which lacks it: Rust's standard library on
 * Windows draws its random numbers from ProcessPrng there. This stand-in takes them from
 * RtlGenRandom (advapi32's SystemFunction036), as older Rust did. Only for running the
 * Windows test binaries under Wine; Windows 10 and later have the real DLL. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
