// Văn bản đến: the agency's inbox, each document's verification report and its status replies (03, 02 with its
// reason, 04, 05, 06), and a page that checks the signatures of any PDF dropped on it (POST /v1/verify).
import { ApiError, api, get, post } from './api.js';
import { DELIVERY, badge, day, dropZone, errorBox, field, h, notify, show, sizeText, table, when } from './ui.js';

const REPLIES = { '03': 'Đã tiếp nhận (03)', '02': 'Từ chối tiếp nhận (02)', '04': 'Đã phân công (04)', '05': 'Đang xử lý (05)', '06': 'Hoàn thành (06)' };
const SUMMARY = { valid: ['Chữ ký hợp lệ', 'ok'], invalid: ['Chữ ký có vấn đề', 'bad'], unsigned: ['Không có chữ ký', 'warn'] };
const REASONS = {
  not_intact: 'nội dung đã bị thay đổi sau khi ký', invalid: 'chữ ký không hợp lệ', untrusted: 'chứng thư số không thuộc tổ chức tin cậy',
  not_whole_document: 'chữ ký cuối không bao trùm toàn bộ tệp (có phần thêm sau khi ký, ví dụ dữ liệu kiểm tra dài hạn)',
  unsigned: 'tệp không có chữ ký số', unreadable: 'không đọc được tệp',
};

/** Số đến (issue 12): the number the agency's register of incoming documents gave the document as it was filed. */
function arrival(item, withYear = false) {
  if (!item.arrival_number) return '—';
  return withYear && item.arrival_year ? `${item.arrival_number} (sổ văn bản đến năm ${item.arrival_year})` : item.arrival_number;
}

export function inboxList() {
  const out = h('div', {}, h('p', { class: 'muted' }, 'Đang tải…'));
  show(h('h1', {}, 'Văn bản đến'), out);
  get('/v1/inbox', { limit: 100 }).then((page) => out.replaceChildren(table(['Số đến', 'Nơi gửi', 'Số / Ký hiệu', 'Trích yếu', 'Nhận lúc', 'Tình trạng', 'Chữ ký'],
    page.items.map((i) => [arrival(i), i.from_name || i.from_organ_id,
      h('a', { href: `#/inbox/${i.inbox_id}` }, `${i.number || ''}/${i.notation || ''}`), i.subject, when(i.received_at),
      h('span', {}, badge(DELIVERY, i.status), i.revoked ? h('span', { class: 'badge warn' }, ' Đã bị thu hồi') : null),
      badge(SUMMARY, i.verification_summary)]))))
    .catch((error) => out.replaceChildren(errorBox(error)));
}

function signatureTable(signatures) {
  const yes = (v) => (v ? 'Có' : v === false ? 'Không' : '—');
  return table(['Chữ ký của', 'Thời điểm ký', 'Nguyên vẹn', 'Hợp lệ', 'Tin cậy', 'Bao trùm tệp', 'Mức PAdES'],
    signatures.map((s) => [h('span', {}, s.organisation || s.signer_subject || s.field, h('br'), h('span', { class: 'muted' }, s.signer_subject || '')),
      when(s.signed_at), yes(s.intact), yes(s.valid), yes(s.trusted), yes(s.covers_whole_document), s.pades_level || '—']));
}

export function reportView(report) {
  const sigs = report.signatures || [];
  const reasons = report.verification_reasons || [...new Set(sigs.flatMap((s) => s.reasons || []))];
  return h('div', {}, sigs.length ? signatureTable(sigs) : h('p', {}, badge(SUMMARY, 'unsigned')),
    reasons.length ? h('ul', {}, reasons.map((r) => h('li', {}, REASONS[r] || r))) : null);
}

export function inboxDetail(id) {
  const view = h('div', {}, h('p', { class: 'muted' }, 'Đang tải…'));
  show(h('h1', {}, 'Văn bản đến'), view);
  const render = (item) => {
    const code = h('select', { name: 'code' }, Object.entries(REPLIES).map(([v, t]) => h('option', { value: v }, t)));
    const reason = h('textarea', { name: 'reason', maxlength: 1000 });
    const box = h('div');
    const form = h('form', { class: 'card', 'aria-labelledby': 'reply' }, h('h2', { id: 'reply' }, 'Báo tình trạng xử lý cho nơi gửi'),
      h('div', { class: 'grid' }, field('Tình trạng', code), h('div', { class: 'wide' }, field('Lý do', reason, '(bắt buộc khi từ chối tiếp nhận)'))), box,
      h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Gửi tình trạng')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      box.replaceChildren();
      try {
        const body = { code: code.value };
        if (reason.value.trim()) body.reason = reason.value.trim();
        render(await post(`/v1/inbox/${id}/status`, body));
        notify(`Đã báo tình trạng "${REPLIES[body.code]}" cho nơi gửi.`);
      } catch (error) { box.replaceChildren(errorBox(error)); }
    });
    const s = item.signer || {};
    view.replaceChildren(
      h('div', { class: 'card' }, h('p', {}, badge(DELIVERY, item.status), ' ', badge(SUMMARY, item.verification_summary), item.revoked ? h('span', { class: 'badge warn' }, ' Nơi gửi đã thu hồi') : null),
        h('dl', { class: 'meta' }, h('dt', {}, 'Số đến'), h('dd', {}, arrival(item, true)), h('dt', {}, 'Nơi gửi'), h('dd', {}, `${item.from_name || ''} (${item.from_organ_id})`),
          h('dt', {}, 'Số, ký hiệu'), h('dd', {}, `${item.number || ''}/${item.notation || ''}`), h('dt', {}, 'Loại'), h('dd', {}, item.type_name || '—'),
          h('dt', {}, 'Trích yếu'), h('dd', {}, item.subject), h('dt', {}, 'Ngày ban hành'), h('dd', {}, `${item.place || ''}, ${day(item.issued_on)}`),
          h('dt', {}, 'Người ký'), h('dd', {}, `${s.competence ? s.competence + ' · ' : ''}${s.position || ''} ${s.full_name || ''}`),
          h('dt', {}, 'Nhận lúc'), h('dd', {}, when(item.received_at)), h('dt', {}, 'Nơi nhận'), h('dd', {}, (item.to_places || []).join('; ')))),
      h('section', { class: 'card', 'aria-labelledby': 'files' }, h('h2', { id: 'files' }, 'Tệp và kết quả kiểm tra chữ ký số'),
        (item.attachments || []).map((a) => h('div', {}, h('h3', {}, a.download ? h('a', { href: a.download.url, rel: 'noopener' }, a.name) : a.name, h('span', { class: 'muted' }, ` · ${sizeText(a.size || 0)}`)),
          a.verification ? reportView(a.verification) : h('p', { class: 'muted' }, 'Không kiểm tra (không phải PDF).')))),
      h('section', { class: 'card', 'aria-labelledby': 'hist' }, h('h2', { id: 'hist' }, 'Các tình trạng đã báo'),
        table(['Tình trạng', 'Lý do', 'Lúc', 'Người báo'], (item.status_history || []).map((x) => [badge(DELIVERY, x.status, `${x.code} ${x.meaning || ''}`), x.reason || '—', when(x.at), x.by || '—']))),
      item.revoked ? null : form);
  };
  get(`/v1/inbox/${id}`).then(render).catch((error) => view.replaceChildren(errorBox(error)));
}

export function verifyPage() {
  const out = h('div', { 'aria-live': 'polite' });
  const zone = dropZone({
    label: 'Tệp PDF cần kiểm tra',
    onFiles: async ([file]) => {
      if (!file) return;
      out.replaceChildren(h('p', { class: 'muted' }, `Đang kiểm tra ${file.name}…`));
      if (file.size > 5 * 1024 * 1024) { out.replaceChildren(errorBox({ code: 'file_too_large', message: 'Tệp lớn hơn 5 MB: hãy kiểm tra văn bản qua mã văn bản đã tải lên.' })); return; }
      try {
        const report = await api('POST', '/v1/verify', { body: file, contentType: 'application/pdf' });
        out.replaceChildren(h('section', { class: 'card', 'aria-labelledby': 'res' }, h('h2', { id: 'res' }, `Kết quả: ${file.name}`),
          h('p', {}, badge({ true: ['Văn bản hợp lệ', 'ok'], false: ['Văn bản chưa hợp lệ', 'bad'] }, String(Boolean(report.valid)))), reportView(report)));
      } catch (error) { out.replaceChildren(error instanceof ApiError ? errorBox(error) : errorBox(null)); }
    },
  });
  show(h('h1', {}, 'Kiểm tra chữ ký số'), h('p', { class: 'muted' }, 'Kéo một tệp PDF bất kỳ vào đây: cổng báo cáo từng chữ ký số trong tệp (người ký, thời điểm, nguyên vẹn, tin cậy, mức PAdES).'),
    h('div', { class: 'card' }, zone), out);
}
