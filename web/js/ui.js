// Small DOM helpers and the Vietnamese words the page shows. Text is always set as text (never as HTML), so
// nothing a document or an agency name carries can run in the page.

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') node.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(node.dataset, value);
    else if (name === 'style') node.style.cssText = value; // CSSOM, which the page's CSP (style-src 'self') allows
    else if (value === true) node.setAttribute(name, '');
    else node.setAttribute(name, String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [name, value] of Object.entries(attrs)) if (value !== null && value !== undefined) node.setAttribute(name, String(value));
  append(node, children);
  return node;
}

/** Replace the main area with a page: its heading gets the focus, so a screen reader says where we are. */
export function show(...children) {
  const main = document.getElementById('main');
  main.replaceChildren(...children.flat());
  const heading = main.querySelector('h1');
  if (heading) { heading.tabIndex = -1; heading.focus(); }
  document.title = `${heading ? heading.textContent + ' · ' : ''}Cổng văn bản điện tử`;
}

let statusTimer = null;
/** A passing notice in the live region (errors stay where they happened: `errorBox`). */
export function notify(text) {
  const box = document.getElementById('status');
  box.replaceChildren(h('div', { class: 'notice' }, text));
  clearTimeout(statusTimer);
  statusTimer = setTimeout(() => box.replaceChildren(), 6000);
}

/** The gateway's own message (its `{"error": {"code", "message", "details"}}`), with the code for support. */
export function errorBox(error) {
  const code = error && error.code ? error.code : 'network_error';
  const message = error && error.message ? error.message : 'Không kết nối được tới máy chủ. Vui lòng thử lại.';
  const details = error && error.details && Object.keys(error.details).length ? error.details : null;
  return h('div', { class: 'error', role: 'alert', dataset: { code } },
    h('strong', {}, message), ' ', h('code', {}, `(${code})`),
    details && Array.isArray(details.errors) && details.errors.length
      ? h('ul', {}, details.errors.map((e) => h('li', {}, `${FIELD_LABELS[e.field] || e.field || ''}: ${e.problem || e.msg || e.message || ''}`)))
      : details && details.field ? h('div', {}, `Trường: ${FIELD_LABELS[details.field] || details.field}`) : null,
    details && Array.isArray(details.recipients) ? h('div', {}, `Nơi nhận: ${details.recipients.join(', ')}`) : null);
}

/** The request fields under the names the form shows them (NĐ 30/2020). */
export const FIELD_LABELS = {
  number: 'Số', notation: 'Ký hiệu', type: 'Loại văn bản', subject: 'Trích yếu', issued_on: 'Ngày ban hành', place: 'Địa danh',
  'signer.full_name': 'Người ký', 'signer.position': 'Chức vụ', 'signer.competence': 'Thẩm quyền ký', signer: 'Người ký',
  urgency: 'Độ khẩn', secrecy: 'Độ mật', recipients: 'Nơi nhận', attachments: 'Phụ lục', reason: 'Lý do', code: 'Tình trạng',
};

/** Marks the inputs a refusal names (`details.field`, `details.errors[].field`) invalid, and focuses the first. */
export function markInvalid(form, error) {
  for (const node of form.querySelectorAll('[aria-invalid]')) node.removeAttribute('aria-invalid');
  const details = (error && error.details) || {};
  const fields = [details.field, ...(Array.isArray(details.errors) ? details.errors.map((e) => e.field) : [])].filter(Boolean);
  const names = { 'signer.full_name': 'signer_full_name', 'signer.position': 'signer_position', 'signer.competence': 'signer_competence' };
  let first = null;
  for (const f of fields) {
    const name = names[f] || String(f).split('.')[0];
    const input = form.querySelector(`[name="${CSS.escape(name)}"]`) || (name === 'recipients' ? form.querySelector('[role=combobox]') : null);
    if (input) { input.setAttribute('aria-invalid', 'true'); first = first || input; }
  }
  return first;
}

export function field(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  return h('div', {}, h('label', { for: id }, label, hint ? h('span', { class: 'hint' }, ` ${hint}`) : null), control);
}

export function table(headers, rows, { caption, rowAttrs } = {}) {
  return h('div', { class: 'table-wrap' }, h('table', {},
    caption ? h('caption', { class: 'muted' }, caption) : null,
    h('thead', {}, h('tr', {}, headers.map((x) => h('th', { scope: 'col', class: x.num ? 'num' : null }, x.label || x)))),
    h('tbody', {}, rows.length ? rows.map((r, i) => h('tr', rowAttrs ? rowAttrs(i) : {}, r.map((cell, j) =>
      h('td', { class: headers[j] && headers[j].num ? 'num' : null, dataset: { label: (headers[j] && headers[j].label) || headers[j] || '' } }, cell))))
      : h('tr', {}, h('td', { colspan: headers.length, class: 'muted' }, 'Không có mục nào.')))));
}

const VN = 'Asia/Ho_Chi_Minh';
export function when(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString('vi-VN', { timeZone: VN, dateStyle: 'short', timeStyle: 'medium' });
}
export function day(iso) {
  if (!iso) return '—';
  const [y, m, d] = String(iso).slice(0, 10).split('-');
  return d && m && y ? `${d}/${m}/${y}` : iso;
}
export function percent(share) {
  return share === null || share === undefined ? '—' : `${(share * 100).toLocaleString('vi-VN', { maximumFractionDigits: 1 })}%`;
}
export function seconds(value) {
  return value === null || value === undefined ? '—' : `${value.toLocaleString('vi-VN')} giây`;
}
export function thisMonth() {
  return new Date().toLocaleString('sv-SE', { timeZone: VN }).slice(0, 7);
}

/** Vietnamese text folded for search: no diacritics, đ → d, lower case (as the gateway's own search). */
export function fold(text) {
  return String(text || '').replace(/[Đđ]/g, 'd').normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

export const STATES = {
  AWAITING_UPLOAD: ['Chờ tải tệp lên', 'work'], UPLOADED: ['Đã nhận tệp', 'work'], SIGNED: ['Đã ký số', 'work'],
  DISPATCHED: ['Đã gửi', 'ok'], REJECTED: ['Bị từ chối', 'bad'], FAILED: ['Gửi lỗi', 'bad'],
  REVOKED: ['Đã thu hồi', 'warn'], EXPIRED: ['Hết hạn tải lên', 'warn'],
};
export const DELIVERY = {
  PENDING: ['Chờ gửi', 'work'], SENT: ['Đã gửi lên trục', 'work'], ARRIVED: ['01 Đã đến', 'work'],
  REJECTED: ['02 Từ chối tiếp nhận', 'bad'], ACCEPTED: ['03 Đã tiếp nhận', 'ok'], ASSIGNED: ['04 Đã phân công', 'ok'],
  PROCESSING: ['05 Đang xử lý', 'ok'], COMPLETED: ['06 Hoàn thành', 'ok'],
};
export function badge(table_, value, fallback) {
  const [text, tone] = table_[value] || [fallback || value || '—', ''];
  return h('span', { class: `badge ${tone}`, dataset: { state: value || '' } }, text);
}

export const DOC_TYPES = {
  CV: 'Công văn', 'QĐ': 'Quyết định', CT: 'Chỉ thị', TB: 'Thông báo', KH: 'Kế hoạch', BC: 'Báo cáo', TTr: 'Tờ trình',
  GM: 'Giấy mời', NQ: 'Nghị quyết', QC: 'Quy chế', 'QyĐ': 'Quy định', TC: 'Thông cáo', HD: 'Hướng dẫn',
  CTr: 'Chương trình', PA: 'Phương án', 'ĐA': 'Đề án', DA: 'Dự án', BB: 'Biên bản', 'HĐ': 'Hợp đồng',
  'CĐ': 'Công điện', BGN: 'Bản ghi nhớ', BTT: 'Bản thỏa thuận', GUQ: 'Giấy ủy quyền', GGT: 'Giấy giới thiệu',
  GNP: 'Giấy nghỉ phép', PG: 'Phiếu gửi', PC: 'Phiếu chuyển', PB: 'Phiếu báo',
};
export const URGENCY = { normal: 'Thường', urgent: 'Khẩn', very_urgent: 'Thượng khẩn', flash: 'Hỏa tốc' };
export const SECRECY = { none: 'Thường (không mật)', confidential: 'Mật', secret: 'Tối mật', top_secret: 'Tuyệt mật' };

export function options(map, selected) {
  return Object.entries(map).map(([value, text]) => h('option', { value, selected: value === selected }, text));
}

/** A file drop zone over a file input: drag and drop, or the input itself from the keyboard. */
export function dropZone({ label, multiple = false, accept = 'application/pdf,.pdf', onFiles }) {
  const input = h('input', { type: 'file', accept, multiple });
  const zone = h('div', { class: 'drop' }, h('label', { for: '' }, label), h('div', { class: 'hint' },
    multiple ? 'Kéo và thả các tệp PDF vào đây, hoặc chọn tệp.' : 'Kéo và thả tệp PDF vào đây, hoặc chọn tệp.'), input);
  const id = `drop-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  zone.querySelector('label').setAttribute('for', id);
  input.addEventListener('change', () => { onFiles([...input.files]); input.value = ''; });
  zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault(); zone.classList.remove('over');
    const files = [...e.dataTransfer.files];
    onFiles(multiple ? files : files.slice(0, 1));
  });
  zone.input = input;
  return zone;
}

export function sizeText(bytes) {
  if (bytes < 1024 * 1024) return `${Math.max(1, Math.round(bytes / 1024))} KB`;
  return `${(bytes / 1024 / 1024).toLocaleString('vi-VN', { maximumFractionDigits: 1 })} MB`;
}

/** A turn counter for a page's loads: only the newest of overlapping requests may draw. Without it a slow answer
 * to an earlier query (a page's first, unfiltered load over a registry of hundreds) that arrives after the
 * person's search replaces the search's rows with the wrong ones. `const turn = newest()`, then in each load
 * `const mine = turn(); await …; if (!mine()) return;`. */
export function newest() {
  let last = 0;
  return () => { const mine = ++last; return () => mine === last; };
}
