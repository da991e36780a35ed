// The province's monthly report (GET /v1/admin/reports/monthly) as a table and a chart of each agency's shares
// against its targets, and the month-by-month trend of the year (GET /v1/admin/reports/yearly).
import { get, saveFile } from './api.js';
import { COLOURS, sharesChart, trendChart } from './charts.js';
import { errorBox, field, h, newest, percent, seconds, show, table, thisMonth } from './ui.js';

export function reportPage() {
  const month = h('input', { type: 'month', name: 'month', value: thisMonth(), required: true });
  const out = h('div', {}, h('p', { class: 'muted' }, 'Đang tải…'));
  const fileBox = h('div');
  const save = (format, accept) => saveFile('/v1/admin/reports/monthly', { month: month.value, format }, accept)
    .then(() => fileBox.replaceChildren()).catch((error) => fileBox.replaceChildren(errorBox(error)));
  const form = h('form', { class: 'card row' }, field('Tháng báo cáo', month), h('button', { type: 'submit' }, 'Xem báo cáo'),
    h('button', { type: 'button', class: 'secondary', onclick: () => save('xlsx', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet') }, 'Tải tệp Excel (XLSX)'),
    h('button', { type: 'button', class: 'secondary', onclick: () => save('csv', 'text/csv') }, 'Tải tệp CSV'));
  form.addEventListener('submit', (e) => { e.preventDefault(); load(); });
  const turn = newest();
  const load = async () => {
    const mine = turn();
    out.replaceChildren(h('p', { class: 'muted' }, 'Đang tải…'));
    try {
      const [monthly, yearly] = await Promise.all([get('/v1/admin/reports/monthly', { month: month.value }),
        get('/v1/admin/reports/yearly', { year: month.value.slice(0, 4) })]);
      if (mine()) out.replaceChildren(...render(monthly, yearly));
    } catch (error) { if (mine()) out.replaceChildren(errorBox(error)); }
  };
  show(h('h1', {}, 'Báo cáo tháng'), h('p', { class: 'muted' }, 'Văn bản đi của từng cơ quan trong tháng: gửi hoàn toàn bằng bản điện tử, ký số, so với chỉ tiêu của tỉnh.'), form, fileBox, out);
  load();
}

function render(monthly, yearly) {
  const t = monthly.totals || {};
  const rows = monthly.agencies || [];
  const summary = h('div', { class: 'grid card', id: 'report-totals' },
    [['Văn bản đã gửi', t.sent, 'sent'], ['Đã ký số', t.signed, 'signed'], ['Gửi hoàn toàn điện tử', t.electronic_only, 'electronic_only'],
      ['Tỷ lệ điện tử', percent(t.electronic_only_share), 'electronic_only_share'], ['Tỷ lệ ký số', percent(t.signed_share), 'signed_share'],
      ['Cơ quan dưới chỉ tiêu', `${t.agencies_below_target ?? 0}/${t.agencies ?? rows.length}`, 'agencies_below_target'],
      ['Bị từ chối / lỗi', `${t.rejected ?? 0} / ${t.failed ?? 0}`, 'rejected_failed'], ['Thời gian tới khi gửi (trung vị)', seconds(t.median_seconds_to_dispatch), 'median']]
      .map(([label, value, key]) => h('div', { dataset: { total: key } }, h('div', { class: 'muted' }, label), h('strong', { style: 'font-size:1.35rem' }, String(value ?? 0)))));
  const headers = ['Cơ quan', { label: 'Đã gửi', num: true }, { label: 'Ký số', num: true }, { label: 'Điện tử hoàn toàn', num: true },
    { label: 'Kèm bản giấy', num: true }, { label: 'Tỷ lệ điện tử', num: true }, { label: 'Chỉ tiêu', num: true }, { label: 'Tỷ lệ ký số', num: true },
    { label: 'Chỉ tiêu', num: true }, { label: 'Từ chối', num: true }, { label: 'Lỗi', num: true }, { label: 'Trung vị tới khi gửi', num: true }, 'Đánh giá'];
  const tableNode = table(headers, rows.map((r) => [h('span', {}, r.name, h('br'), h('span', { class: 'muted mono' }, r.organ_id)),
    r.sent, r.signed, r.electronic_only, r.paper_in_parallel, percent(r.electronic_only_share), percent(r.target_electronic_only_share),
    percent(r.signed_share), percent(r.target_signed_share), r.rejected, r.failed, seconds(r.median_seconds_to_dispatch),
    r.below_target ? h('span', { class: 'badge warn' }, 'Dưới chỉ tiêu') : r.sent ? h('span', { class: 'badge ok' }, 'Đạt') : '—']),
  { rowAttrs: (i) => ({ class: rows[i].below_target ? 'below' : null, dataset: { organId: rows[i].organ_id } }) });
  const withDocuments = rows.filter((r) => r.sent > 0);
  const months = yearly.months || [];
  const totals = (yearly.totals && yearly.totals.months) || [];
  const byMonth = new Map(totals.map((m) => [m.month, m]));
  const target = rows.length ? Math.max(...rows.map((r) => r.target_electronic_only_share || 0)) : null;
  return [summary,
    h('section', { 'aria-labelledby': 'chart-title' }, h('h2', { id: 'chart-title' }, `Tỷ lệ theo cơ quan, tháng ${monthly.month.slice(5)}/${monthly.month.slice(0, 4)}`),
      withDocuments.length ? sharesChart(withDocuments, 'Tỷ lệ gửi điện tử và ký số của từng cơ quan so với chỉ tiêu')
        : h('p', { class: 'muted' }, 'Chưa cơ quan nào gửi văn bản trong tháng.')),
    h('section', { 'aria-labelledby': 'table-title' }, h('h2', { id: 'table-title' }, 'Chi tiết'), tableNode),
    h('section', { 'aria-labelledby': 'trend-title' }, h('h2', { id: 'trend-title' }, `Diễn biến năm ${yearly.year}`),
      trendChart(months, [[months.map((m) => (byMonth.get(m) || {}).electronic_only_share ?? null), COLOURS.electronic, 'gửi điện tử'],
        [months.map((m) => (byMonth.get(m) || {}).signed_share ?? null), COLOURS.signed, 'ký số']], target, `Tỷ lệ của toàn tỉnh theo tháng, năm ${yearly.year}`))];
}
