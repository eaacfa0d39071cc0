/*
 * banned.h — functions that are unsafe or ambiguous enough that using them
 * must fail the build (after git's banned.h).  Include it last in every .c.
 * Use snprintf/pt_buf, strtok_r, pt_parse_u64 or strtoull with errno checks,
 * gmtime_r/localtime_r and strftime, mkstemp/mkdtemp (or O_TMPFILE)
 * instead.  mktemp names a file another process can create first;
 * ctime_r and asctime_r write into a buffer whose size the caller cannot
 * pass (26 bytes, overflowed by a year past 9999).
 */
#ifndef PT_BANNED_H
#define PT_BANNED_H

#define PT_BANNED(f) sorry_##f##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) PT_BANNED(strcpy)
#undef strcat
#define strcat(x, y) PT_BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) PT_BANNED(strncpy)
#undef strncat
#define strncat(x, y, n) PT_BANNED(strncat)
#undef sprintf
#define sprintf(...) PT_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) PT_BANNED(vsprintf)
#undef strtok
#define strtok(x, y) PT_BANNED(strtok)
#undef atoi
#define atoi(x) PT_BANNED(atoi)
#undef atol
#define atol(x) PT_BANNED(atol)
#undef atoll
#define atoll(x) PT_BANNED(atoll)
#undef gmtime
#define gmtime(t) PT_BANNED(gmtime)
#undef localtime
#define localtime(t) PT_BANNED(localtime)
#undef ctime
#define ctime(t) PT_BANNED(ctime)
#undef asctime
#define asctime(t) PT_BANNED(asctime)
#undef ctime_r
#define ctime_r(t, buf) PT_BANNED(ctime_r)
#undef asctime_r
#define asctime_r(tm, buf) PT_BANNED(asctime_r)
#undef mktemp
#define mktemp(x) PT_BANNED(mktemp)
#undef gets
#define gets(x) PT_BANNED(gets)

#endif
