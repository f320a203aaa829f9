"""containerd/platforms' own test tables, run against our port (registry/platform.py).

Source: https://github.com/containerd/platforms at commit 09756f59cb1d6b3fb368f371043d36e634789537
(2026-03-31): platforms_test.go (TestParseSelector, TestFormatAllEncoding, TestParseSelectorInvalid,
TestFormatAllSkipsEmptyOSFeatures) and compare_test.go (TestOnly, TestOnlyStrict, TestCompareOSFeatures).
Copied as data; the cases containerd itself skips (wildcards) are left out, and so are TestOnlyOS and
TestOnlyOSLess (a matcher containerd never uses to pull). Where containerd reads the host
(runtime.GOOS, runtime.GOARCH), ECI's default linux/amd64 stands in, as in the port.

Windows (os.version matching, platform_windows_compat.go): platform_windows_compat_test.go
(Test_PlatformCompat), defaults_test.go (TestMatchComparerMatch_ABICheckWCOW),
platforms_windows_test.go (TestFallbackOnOSVersion) and the three rows of defaults_windows_test.go
TestMatchComparerMatch_LCOW that do not read the host. compare_test.go's Windows rows are the windows
entries of TestOnly and TestOnlyStrict below. Not ported:
- host-dependent (the input or the expectation is the machine's own DefaultSpec(), Default(),
  runtime.GOARCH or Windows build from RtlGetNtVersionNumbers): defaults_windows_test.go TestDefault,
  TestDefaultMatchComparer, TestMatchComparerMatch_WCOW and LCOW's DefaultSpec() and host-build rows;
  platforms_windows_test.go TestNormalize;
- defaults_test.go TestWindowsMatchComparerLess and platform_windows_compat_test.go Test_PlatformOrder:
  they sort with windowsMatchComparer.Less (the highest os.version first), which containerd returns only
  from Default() and NewMatcher on a Windows host. The port has no such comparer: `only`/`ordered` keep
  matching entries in index order, as containerd's Only/Ordered/OnlyStrict/Any do for the same rows.
"""

from __future__ import annotations

from functools import cmp_to_key
from typing import Optional

import pytest

from kubectl_imagecache.errors import UsageError
from kubectl_imagecache.registry.platform import (
    MatchComparer,
    Platform,
    any_of,
    format_all,
    format_platform,
    only,
    only_strict,
    ordered,
    parse_platform,
)

OS, ARCH = "linux", "amd64"  # the host containerd would read


def P(os_: str, arch: str, variant: Optional[str] = None, version: str = "",
      features: tuple[str, ...] = ()) -> Platform:
    return Platform(os_, arch, variant, version, features)


# platforms_test.go TestParseSelector: (input, expected, also matches, formatted, FormatAll?)
PARSE = [
    ("linux/arm64", P("linux", "arm64"),
     [P("linux", "aarch64"), P("linux", "aarch64", "v8"), P("linux", "arm64", "v8")], "linux/arm64", False),
    ("linux/arm64/v8", P("linux", "arm64", "v8"),
     [P("linux", "aarch64"), P("linux", "aarch64", "v8"), P("linux", "arm64")], "linux/arm64/v8", False),
    ("linux/arm", P("linux", "arm"),
     [P("linux", "arm", "v7"), P("linux", "armhf"), P("linux", "arm", "7")], "linux/arm", False),
    ("linux/arm/v6", P("linux", "arm", "v6"), [P("linux", "armel")], "linux/arm/v6", False),
    ("linux/arm/v7", P("linux", "arm", "v7"), [P("linux", "arm"), P("linux", "armhf")], "linux/arm/v7", False),
    ("arm", P(OS, "arm"), [], f"{OS}/arm", False),
    ("armel", P(OS, "arm", "v6"), [], f"{OS}/arm/v6", False),
    ("armhf", P(OS, "arm"), [], f"{OS}/arm", False),
    ("Aarch64", P(OS, "arm64"), [], f"{OS}/arm64", False),
    ("x86_64", P(OS, "amd64"), [], f"{OS}/amd64", False),
    ("Linux/x86_64", P("linux", "amd64"), [], "linux/amd64", False),
    ("i386", P(OS, "386"), [], f"{OS}/386", False),
    ("linux", P("linux", ARCH), [], f"linux/{ARCH}", False),
    ("s390x", P(OS, "s390x"), [], f"{OS}/s390x", False),
    ("linux/s390x", P("linux", "s390x"), [], "linux/s390x", False),
    ("macOS", P("darwin", ARCH), [], f"darwin/{ARCH}", False),
    ("windows", P("windows", ARCH), [], f"windows/{ARCH}", False),
    ("windows()", P("windows", ARCH), [], f"windows/{ARCH}", True),
    ("windows(10.0.17763)", P("windows", ARCH, None, "10.0.17763"), [], f"windows(10.0.17763)/{ARCH}", True),
    ("windows(10.0.17763+win32k)", P("windows", ARCH, None, "10.0.17763", ("win32k",)), [],
     f"windows(10.0.17763+win32k)/{ARCH}", True),
    ("linux(+gpu)", P("linux", ARCH, None, "", ("gpu",)), [], f"linux(+gpu)/{ARCH}", True),
    ("linux(+gpu+simd)", P("linux", ARCH, None, "", ("gpu", "simd")), [], f"linux(+gpu+simd)/{ARCH}", True),
    ("linux(+unsorted+erofs)", P("linux", ARCH, None, "", ("unsorted", "erofs")), [],
     f"linux(+erofs+unsorted)/{ARCH}", True),
    ("windows(10.0.17763%2Bbuild.42)", P("windows", ARCH, None, "10.0.17763+build.42"), [],
     f"windows(10.0.17763%2Bbuild.42)/{ARCH}", True),
    ("windows(10.0.17763%2Bbuild.42+win32k)", P("windows", ARCH, None, "10.0.17763+build.42", ("win32k",)), [],
     f"windows(10.0.17763%2Bbuild.42+win32k)/{ARCH}", True),
    ("windows(50%25done)", P("windows", ARCH, None, "50%done"), [], f"windows(50%25done)/{ARCH}", True),
]


@pytest.mark.parametrize("text, expected, matches, formatted, use_all", PARSE, ids=[c[0] for c in PARSE])
def test_parse_selector(text: str, expected: Platform, matches: list[Platform], formatted: str, use_all: bool) -> None:
    p = parse_platform(text)
    assert p == expected
    m = only_strict(p)  # NewMatcher(p)
    assert m.match(expected)
    for other in matches:
        assert m.match(other), other
    fmt = format_all if use_all else format_platform
    assert fmt(p) == formatted
    assert fmt(parse_platform(formatted)) == formatted  # stable round trip


# TestFormatAllEncoding
FORMAT_ALL = [
    (P("windows", "amd64", None, "10.0.17763+build.42"), "windows(10.0.17763%2Bbuild.42)/amd64"),
    (P("windows", "amd64", None, "10.0.17763+build.42", ("win32k",)), "windows(10.0.17763%2Bbuild.42+win32k)/amd64"),
    (P("windows", "amd64", None, "50%done"), "windows(50%25done)/amd64"),
    (P("windows", "amd64", None, "1.0(beta)"), "windows(1.0%28beta%29)/amd64"),
    (P("windows", "amd64", None, "a/b"), "windows(a%2Fb)/amd64"),
    (P("windows", "amd64", None, "10.0.17763"), "windows(10.0.17763)/amd64"),
    (P("linux", "amd64", None, "", ("feat+v2",)), "linux(+feat%2Bv2)/amd64"),
    (P("linux", "amd64", None, "", ("100%gpu",)), "linux(+100%25gpu)/amd64"),
    (P("windows", "amd64", None, "10.0+build", ("feat+1",)), "windows(10.0%2Bbuild+feat%2B1)/amd64"),
]


@pytest.mark.parametrize("platform, expected", FORMAT_ALL, ids=[c[1] for c in FORMAT_ALL])
def test_format_all_encoding(platform: Platform, expected: str) -> None:
    assert format_all(platform) == expected
    back = parse_platform(expected)
    assert back.os_version == platform.os_version
    assert back.os_features == platform.os_features


@pytest.mark.parametrize("text", ["", "/linux/arm", "linux/arm/", "linux /arm", "linux/&arm", "linux/arm/foo/bar"])
def test_parse_selector_invalid(text: str) -> None:
    with pytest.raises(UsageError):
        parse_platform(text)


def test_format_all_skips_empty_os_features() -> None:
    assert format_all(P("linux", "amd64", None, "", ("", "gpu", "", "simd"))) == "linux(+gpu+simd)/amd64"


# compare_test.go TestOnly: platform -> (matches, does not match)
ONLY = {
    "linux/amd64": (["linux/amd64", "linux/386"],
                    ["linux/amd64/v2", "linux/arm/v7", "linux/arm64", "windows/amd64", "windows/arm"]),
    "linux/amd64/v2": (["linux/amd64", "linux/amd64/v1", "linux/amd64/v2", "linux/386"],
                       ["linux/amd64/v3", "linux/amd64/v4", "linux/arm/v7", "linux/arm64", "windows/amd64",
                        "windows/arm"]),
    "linux/386": (["linux/386"], ["linux/amd64", "linux/arm/v7", "linux/arm64", "windows/amd64", "windows/arm"]),
    "windows/amd64": (["windows/amd64", "windows(10.0.17763)/amd64"],
                      ["linux/amd64", "linux/arm/v7", "linux/arm64", "windows/arm"]),
    "linux/arm/v8": (["linux/arm", "linux/arm/v5", "linux/arm/v6", "linux/arm/v7", "linux/arm/v8"],
                     ["linux/amd64", "linux/arm/v4", "linux/arm64", "windows/amd64", "windows/arm"]),
    "linux/arm/v7": (["linux/arm", "linux/arm/v5", "linux/arm/v6", "linux/arm/v7"],
                     ["linux/amd64", "linux/arm/v4", "linux/arm/v8", "linux/arm64", "windows/amd64", "windows/arm"]),
    "linux/arm/v6": (["linux/arm/v5", "linux/arm/v6"],
                     ["linux/amd64", "linux/arm", "linux/arm/v4", "linux/arm/v7", "linux/arm/v8", "linux/arm64",
                      "windows/amd64", "windows/arm"]),
    "linux/arm/v5": (["linux/arm/v5"],
                     ["linux/amd64", "linux/arm", "linux/arm/v4", "linux/arm/v6", "linux/arm/v7", "linux/arm/v8",
                      "linux/arm64", "windows/amd64", "windows/arm"]),
    "linux/arm/v4": (["linux/arm/v4"],
                     ["linux/amd64", "linux/arm", "linux/arm/v5", "linux/arm/v6", "linux/arm/v7", "linux/arm/v8",
                      "linux/arm64", "windows/amd64", "windows/arm"]),
    "linux/arm64/v9.6": (["linux/arm", "linux/arm/v5", "linux/arm/v6", "linux/arm/v7", "linux/arm/v8", "linux/arm64",
                          "linux/arm64/v8", *[f"linux/arm64/v8.{i}" for i in range(1, 10)], "linux/arm64/v9",
                          *[f"linux/arm64/v9.{i}" for i in range(0, 7)]],
                         ["linux/amd64", "linux/arm/v4", "windows/amd64", "windows/arm", "linux/arm64/v8.10"]),
    "linux/arm64/v9": (["linux/arm", "linux/arm/v5", "linux/arm/v6", "linux/arm/v7", "linux/arm/v8", "linux/arm64",
                        "linux/arm64/v8", *[f"linux/arm64/v8.{i}" for i in range(1, 6)], "linux/arm64/v9",
                        "linux/arm64/v9.0"],
                       ["linux/amd64", "linux/arm/v4", "windows/amd64", "windows/arm", "linux/arm64/v8.6"]),
    "linux/arm64/v8.1": (["linux/arm", "linux/arm/v5", "linux/arm/v6", "linux/arm/v7", "linux/arm/v8", "linux/arm64",
                          "linux/arm64/v8", "linux/arm64/v8.1"],
                         ["linux/amd64", "linux/arm/v4", "linux/arm/v9", "linux/arm64/v9", "windows/amd64",
                          "windows/arm"]),
    "linux/arm64": (["linux/arm", "linux/arm/v5", "linux/arm/v6", "linux/arm/v7", "linux/arm/v8", "linux/arm64",
                     "linux/arm64/v8"],
                    ["linux/amd64", "linux/arm/v4", "linux/arm/v9", "linux/arm64/v9", "windows/amd64", "windows/arm"]),
}

# compare_test.go TestOnlyStrict
ONLY_STRICT = {
    "linux/amd64": (["linux/amd64"], ["linux/386", "linux/arm/v7", "linux/arm64", "windows/amd64", "windows/arm"]),
    "linux/386": (["linux/386"], ["linux/amd64", "linux/arm/v7", "linux/arm64", "windows/amd64", "windows/arm"]),
    "windows/amd64": (["windows/amd64", "windows(10.0.17763)/amd64"],
                      ["linux/amd64", "linux/arm/v7", "linux/arm64", "windows/arm"]),
    "windows(10.0.17763)/amd64": (["windows/amd64", "windows(10.0.17763)/amd64"],
                                  ["linux/amd64", "linux/arm/v7", "linux/arm64", "windows/arm"]),
    "linux/arm/v8": (["linux/arm/v8"],
                     ["linux/arm", "linux/arm/v5", "linux/arm/v6", "linux/arm/v7", "linux/amd64", "linux/arm/v4",
                      "linux/arm64", "windows/amd64", "windows/arm"]),
    "linux/arm/v7": (["linux/arm", "linux/arm/v7"],
                     ["linux/arm/v5", "linux/arm/v6", "linux/amd64", "linux/arm/v4", "linux/arm/v8", "linux/arm64",
                      "windows/amd64", "windows/arm"]),
    "linux/arm/v6": (["linux/arm/v6"],
                     ["linux/arm/v5", "linux/amd64", "linux/arm", "linux/arm/v4", "linux/arm/v7", "linux/arm/v8",
                      "linux/arm64", "windows/amd64", "windows/arm"]),
    "linux/arm/v5": (["linux/arm/v5"],
                     ["linux/amd64", "linux/arm", "linux/arm/v4", "linux/arm/v6", "linux/arm/v7", "linux/arm/v8",
                      "linux/arm64", "windows/amd64", "windows/arm"]),
    "linux/arm/v4": (["linux/arm/v4"],
                     ["linux/amd64", "linux/arm", "linux/arm/v5", "linux/arm/v6", "linux/arm/v7", "linux/arm/v8",
                      "linux/arm64", "windows/amd64", "windows/arm"]),
    "linux/arm64/v9.5": (["linux/arm64/v9.5"],
                         ["linux/arm", "linux/arm/v5", "linux/arm/v6", "linux/arm/v7", "linux/arm/v8", "linux/amd64",
                          "linux/arm/v4", "linux/arm64/v8", "linux/arm64/v8.1", "linux/arm64/v9", "linux/arm64/v9.1",
                          "linux/arm64/v9.4", "windows/amd64", "windows/arm"]),
    "linux/arm64/v9": (["linux/arm64/v9", "linux/arm64/v9.0"],
                       ["linux/arm", "linux/arm/v5", "linux/arm/v6", "linux/arm/v7", "linux/arm/v8", "linux/amd64",
                        "linux/arm/v4", "linux/arm/v9", "linux/arm64/v8", "linux/arm64/v8.1", "windows/amd64",
                        "windows/arm"]),
    "linux/arm64/v8.1": (["linux/arm64/v8.1"],
                         ["linux/arm", "linux/arm/v5", "linux/arm/v6", "linux/arm/v7", "linux/arm/v8", "linux/amd64",
                          "linux/arm/v4", "linux/arm/v9", "linux/arm64/v8", "linux/arm64/v9", "windows/amd64",
                          "windows/arm"]),
    "linux/arm64": (["linux/arm64", "linux/arm64/v8"],
                    ["linux/arm", "linux/arm/v5", "linux/arm/v6", "linux/arm/v7", "linux/arm/v8", "linux/amd64",
                     "linux/arm/v4", "linux/arm/v9", "linux/arm64/v9", "windows/amd64", "windows/arm"]),
}


def _check(make: type | object, table: dict[str, tuple[list[str], list[str]]], name: str) -> None:
    wrong = []
    for request, (yes, no) in table.items():
        m: MatchComparer = make(parse_platform(request))  # type: ignore[operator]
        wrong += [f"{name}({request}).match({p}) should be True" for p in yes if not m.match(parse_platform(p))]
        wrong += [f"{name}({request}).match({p}) should be False" for p in no if m.match(parse_platform(p))]
    assert not wrong, "\n".join(wrong)


def test_only() -> None:
    _check(only, ONLY, "Only")


def test_only_strict() -> None:
    _check(only_strict, ONLY_STRICT, "OnlyStrict")


# compare_test.go TestCompareOSFeatures: (request, platforms, expected order) for Only, OnlyStrict, Ordered, Any
COMPARE_OS_FEATURES = [
    ("linux/amd64", ["windows/amd64", "linux/amd64", "linux(+other)/amd64", "linux/arm64"],
     ["linux/amd64", "linux(+other)/amd64", "windows/amd64", "linux/arm64"]),
    ("linux(+none)/amd64", ["windows/amd64", "linux/amd64", "linux/arm64", "linux(+other)/amd64"],
     ["linux/amd64", "linux(+other)/amd64", "windows/amd64", "linux/arm64"]),
    ("linux(+other)/amd64", ["windows/amd64", "linux/amd64", "linux/arm64", "linux(+other)/amd64"],
     ["linux(+other)/amd64", "linux/amd64", "windows/amd64", "linux/arm64"]),
    ("linux(+af+other+zf)/amd64", ["windows/amd64", "linux/amd64", "linux/arm64", "linux(+other)/amd64"],
     ["linux(+other)/amd64", "linux/amd64", "windows/amd64", "linux/arm64"]),
    ("linux(+f1+f2)/amd64", ["linux/amd64", "linux(+f2)/amd64", "linux(+f1)/amd64", "linux(+f1+f2)/amd64"],
     ["linux(+f1+f2)/amd64", "linux(+f2)/amd64", "linux(+f1)/amd64", "linux/amd64"]),
    ("linux(7.2+other)/amd64", ["linux/amd64", "linux(+other)/amd64", "linux(7.1)/amd64", "linux(7.2+other)/amd64"],
     ["linux(+other)/amd64", "linux(7.2+other)/amd64", "linux/amd64", "linux(7.1)/amd64"]),
]


def _sorted(mc: MatchComparer, platforms: list[str]) -> list[str]:
    def cmp(a: Platform, b: Platform) -> int:
        return -1 if mc.less(a, b) else 1 if mc.less(b, a) else 0

    # Go's sort.Slice on so few elements is an insertion sort: stable, as Python's sort is.
    return [format_all(p) for p in sorted((parse_platform(p) for p in platforms), key=cmp_to_key(cmp))]


@pytest.mark.parametrize("kind", ["only", "only strict", "ordered", "any"])
@pytest.mark.parametrize("request_, platforms, expected", COMPARE_OS_FEATURES, ids=[c[0] for c in COMPARE_OS_FEATURES])
def test_compare_os_features(kind: str, request_: str, platforms: list[str], expected: list[str]) -> None:
    p = parse_platform(request_)
    mc = {"only": only, "only strict": only_strict, "ordered": ordered, "any": any_of}[kind](p)
    assert _sorted(mc, platforms) == expected


# Not a containerd table: the order Only() prefers, which decides which entry of an index is pulled.
@pytest.mark.parametrize("request_, entries, best", [
    ("linux/arm/v7", ["linux/arm/v5", "linux/arm/v6", "linux/arm/v7"], "linux/arm/v7"),
    ("linux/arm/v7", ["linux/arm/v5", "linux/arm/v6"], "linux/arm/v6"),
    ("linux/arm", ["linux/arm/v6", "linux/arm/v5"], "linux/arm/v6"),
    ("linux/arm64", ["linux/arm/v7", "linux/arm64/v8", "linux/arm/v8"], "linux/arm64/v8"),
    ("linux/arm64", ["linux/arm/v6", "linux/arm/v8", "linux/arm/v7"], "linux/arm/v8"),
    ("linux/amd64/v3", ["linux/386", "linux/amd64", "linux/amd64/v2"], "linux/amd64/v2"),
    ("linux/amd64", ["linux/amd64/v3", "linux/386", "linux/amd64"], "linux/amd64"),
])
def test_only_prefers_the_closest_platform(request_: str, entries: list[str], best: str) -> None:
    mc = only(parse_platform(request_))
    i = mc.best([parse_platform(e) for e in entries])
    assert i is not None and entries[i] == best


# -- Windows: os.version matching (platform_windows_compat.go) -----------------------------------------

def W(os_version: str = "") -> Platform:
    return P("windows", "amd64", None, os_version)


# platform_windows_compat.go's build numbers
RS5 = LTSC2019 = 17763
LTSC2022 = 20348
V22H2_WIN11 = 22621
V23H2 = 25398
LTSC2025 = 26100

# platform_windows_compat_test.go Test_PlatformCompat: (host build, container build, should run), both 10.0.
# Upstream calls checkWindowsHostAndContainerCompat; here it is reached as containerd reaches it, through
# NewMatcher's os.version check (getWindowsOSVersion, then the compatibility check).
TEST_PLATFORM_COMPAT = [
    (LTSC2019, LTSC2019, True),
    (LTSC2019, LTSC2022, False),
    (LTSC2022, LTSC2019, False),
    (LTSC2022, LTSC2022, True),
    (V22H2_WIN11, LTSC2019, False),
    (V22H2_WIN11, LTSC2022, True),
    (V23H2, LTSC2019, False),
    (V23H2, LTSC2022, True),
    (LTSC2025, LTSC2022, True),
    (LTSC2022, LTSC2025, False),
    (LTSC2022, V22H2_WIN11, False),
    (LTSC2025, V22H2_WIN11, True),
]


@pytest.mark.parametrize("host, ctr, should_run", TEST_PLATFORM_COMPAT,
                         ids=[f"Host_{h}_Ctr_{c}" for h, c, _ in TEST_PLATFORM_COMPAT])
def test_platform_compat(host: int, ctr: int, should_run: bool) -> None:
    m = only_strict(W(f"10.0.{host}"))  # NewMatcher(host)
    assert m.match(W(f"10.0.{ctr}")) is should_run


# defaults_test.go TestMatchComparerMatch_ABICheckWCOW: (host os.version, entry os.version, match), windows/amd64
TEST_MATCH_COMPARER_MATCH_ABI_CHECK_WCOW = [
    ("10.0.17763", "10.0.17763", True),
    ("10.0.17763", "10.0.20348", False),
    ("10.0.20348", "10.0.17763", False),
    ("10.0.20348", "10.0.20348", True),
    ("10.0.22621", "10.0.17763", False),
    ("10.0.22621", "10.0.20348", True),
    ("", "10.0.17763", True),
    ("", "", True),
    ("", "10.0.22621", True),
]


@pytest.mark.parametrize("host, entry, match", TEST_MATCH_COMPARER_MATCH_ABI_CHECK_WCOW,
                         ids=[f"{h or 'none'}-{e or 'none'}" for h, e, _ in TEST_MATCH_COMPARER_MATCH_ABI_CHECK_WCOW])
def test_match_comparer_match_abi_check_wcow(host: str, entry: str, match: bool) -> None:
    assert only_strict(W(host)).match(W(entry)) is match  # NewMatcher(host).Match(entry)


# platforms_windows_test.go TestFallbackOnOSVersion: an entry without os.version matches any requested one.
def test_fallback_on_os_version() -> None:
    assert only_strict(W("99.99.99.99")).match(W())  # NewMatcher(p).Match(other)


# defaults_windows_test.go TestMatchComparerMatch_LCOW, rows that do not read the host: NewMatcher(linux/amd64)
TEST_MATCH_COMPARER_MATCH_LCOW = [
    (W(), False),
    (W("10.0.17762.1"), False),
    (P("linux", "amd64"), True),
]


@pytest.mark.parametrize("entry, match", TEST_MATCH_COMPARER_MATCH_LCOW,
                         ids=[format_all(e) for e, _ in TEST_MATCH_COMPARER_MATCH_LCOW])
def test_match_comparer_match_lcow(entry: Platform, match: bool) -> None:
    assert only_strict(P("linux", "amd64")).match(entry) is match
