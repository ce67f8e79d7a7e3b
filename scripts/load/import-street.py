#!/usr/bin/env python3
# A street office's spreadsheet for the import benchmark (BENCHMARKS.md, issue 19):
# python3 import-street.py COUNT MICRO_GRID_NAME OUT.csv
import sys, datetime
n = int(sys.argv[1]); micro = sys.argv[2]
W=[7,9,10,5,8,4,2,1,6,3,7,9,10,5,8,4,2]; M="10X98765432"
def idn(i):
    d = datetime.date(1950,1,1) + datetime.timedelta(days=i % 20000)
    body = "330302" + d.strftime("%Y%m%d") + "%03d" % (i // 20000 % 1000)
    return body + M[sum(int(c)*w for c,w in zip(body,W)) % 11]
hdr = "小区,楼栋,单元,门牌号,微网格,姓名,身份证号,手机号,户籍状态,与户关系,标签,党员,专有部分编号,建筑面积,产权人,份额,开发商未售"
out = ["\ufeff" + hdr]
for i in range(n):
    b, u, door = i // 240 + 1, (i // 24) % 10 + 1, "%d%02d" % ((i % 24) // 2 + 1, i % 2 + 1)
    part = f"{b}幢{u}单元{door}"
    if i % 25 == 0:   # the developer's unsold parts
        out.append(f"导入苑,{b}幢,{u}单元,{door},{micro},,,,,,,,{part},88.00,导入置业,,是")
    elif i % 10 == 3: # a buyer's second part, rented out
        out.append(f"导入苑,{b}幢,{u}单元,{door},{micro},租户{i},{idn(i)},,流动人口,租户,,否,{part},70.50,业主{i-1},,否")
    else:
        out.append(f"导入苑,{b}幢,{u}单元,{door},{micro},业主{i},{idn(i)},,户籍人口,户主,,否,{part},90.25,本人,,否")
open(sys.argv[3], "w").write("\r\n".join(out) + "\r\n")
