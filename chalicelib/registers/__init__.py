"""The văn thư's registers (sổ đăng ký văn bản đi / đến, NĐ 30/2020 Art. 15 and 22) as the API reads them: a page
of one agency's register of one year, each entry beside the current state of what it numbers, in JSON or XLSX
(issue 12). Numbers are issued elsewhere: outgoing ones at signing (chalicelib.outbound.numbering), incoming ones as
inbound documents are filed (chalicelib.inbound.arrival_numbers)."""
