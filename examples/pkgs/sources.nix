# Upstream release tarballs of the real packages, pinned by their upstream sha256.
# One entry per line: fetch-sources.sh reads `deb` (the Debian source package whose
# .orig tarball is this upstream tarball, unchanged) and `sha256` from each line.
# `url` is the project's own release URL (a `mirror://` placeholder where unsure); the
# fetch is served by the hashed mirror (MIRROR/sha256/<hex>) before the URL is tried.
{
  hello = { deb = "hello"; name = "hello-2.10.tar.gz"; url = "https://ftp.gnu.org/gnu/hello/hello-2.10.tar.gz"; sha256 = "31e066137a962676e89f69d1b65382de95a7ef7d914b8cb956f41ea72e0f516b"; };
  tree = { deb = "tree"; name = "tree-2.1.0.tgz"; url = "mirror://tree/tree-2.1.0.tgz"; sha256 = "0160c535bff2b0dc6a830b9944e981e3427380f63e748da96ced7071faebabf6"; };
  bzip2 = { deb = "bzip2"; name = "bzip2-1.0.8.tar.gz"; url = "https://sourceware.org/pub/bzip2/bzip2-1.0.8.tar.gz"; sha256 = "ab5a03176ee106d3f0fa90e381da478ddae405918153cca248e682cd0c4a2269"; };
  gdbm = { deb = "gdbm"; name = "gdbm-1.23.tar.gz"; url = "https://ftp.gnu.org/gnu/gdbm/gdbm-1.23.tar.gz"; sha256 = "74b1081d21fff13ae4bd7c16e5d6e504a4c26f7cde1dca0d963a484174bbcacd"; };
  lzo = { deb = "lzo2"; name = "lzo-2.10.tar.gz"; url = "https://www.oberhumer.com/opensource/lzo/download/lzo-2.10.tar.gz"; sha256 = "c0f892943208266f9b6543b3ae308fab6284c5c90e627931446fb49b4221a072"; };
  lzop = { deb = "lzop"; name = "lzop-1.04.tar.gz"; url = "https://www.lzop.org/download/lzop-1.04.tar.gz"; sha256 = "7e72b62a8a60aff5200a047eea0773a8fb205caf7acbe1774d95147f305a2f41"; };
}
