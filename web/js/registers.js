// Sổ văn bản: the văn thư's registers (sổ đăng ký văn bản đi / đến, NĐ 30/2020; GET /v1/registers/outgoing|incoming,
// issue 12), one agency's register of one year in number order, paged with "Xem thêm", and the year's register as
// the gateway's XLSX workbook. A clerk reads their own agency's; an admin names the agency by its identifier code.
import { agencyName, get, rememberAgency, saveFile } from './api.js';
import { DELIVERY, DOC_TYPES, STATES, badge, day, errorBox, field, h, newest, show, table, thisMonth, when } from './ui.js';

const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
const TABS = [['outgoing', 'Văn bản đi'], ['incoming', 'Văn bản đến']];
const WORD = { outgoing: 'đi', incoming: 'đến' };
const PAGE = 100;

function outgoingTable(items, clerk, caption) {
  return table(['Số', 'Ký hiệu', 'Ngày ban hành', 'Loại văn bản', 'Trích yếu', 'Người ký', 'Nơi nhận', 'Ngày cấp số', 'Trạng thái'],
    items.map((e) => [
      clerk && e.document_id ? h('a', { href: `#/documents/${e.document_id}` }, e.number) : h('strong', {}, e.number),
      e.notation || '—', day(e.issued_on), DOC_TYPES[e.type] || e.type || '—', e.subject || '—', e.signer || '—',
      (e.recipients || []).map((code) => agencyName(code) || code).join('; ') || '—', when(e.issued_at),
      h('span', {}, badge(STATES, e.state), e.reason ? h('div', { class: 'muted' }, `Lý do: ${e.reason}`) : null)]),
    { caption, rowAttrs: (i) => ({ dataset: { number: items[i].number, holderId: items[i].holder_id || '' } }) });
}

function incomingTable(items, clerk, caption) {
  for (const e of items) rememberAgency(e.from_organ_id, e.from_name);
  return table(['Số đến', 'Ngày đến', 'Nơi gửi', 'Số, ký hiệu', 'Ngày văn bản', 'Loại văn bản', 'Trích yếu', 'Tình trạng'],
    items.map((e) => [
      clerk && e.inbox_id ? h('a', { href: `#/inbox/${e.inbox_id}` }, e.number) : h('strong', {}, e.number),
      when(e.received_at), h('span', {}, e.from_name || e.from_organ_id || '—', h('br'), h('span', { class: 'muted mono' }, e.from_organ_id || '')),
      `${e.document_number || ''}/${e.notation || ''}`, day(e.issued_on), e.type_name || '—', e.subject || '—',
      h('span', {}, badge(DELIVERY, e.status, e.status_code || e.status), e.revoked ? h('span', { class: 'badge warn' }, ' Đã bị thu hồi') : null)]),
    { caption, rowAttrs: (i) => ({ dataset: { number: items[i].number, holderId: items[i].holder_id || '' } }) });
}

/** Two tabs (Văn bản đi / Văn bản đến) as WAI-ARIA tabs: arrows, Home and End move between them. */
function tabs(onSelect) {
  const list = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Loại sổ' });
  const buttons = TABS.map(([value, text], i) => h('button', {
    type: 'button', role: 'tab', id: `tab-${value}`, 'aria-controls': 'register-panel', 'aria-selected': String(i === 0),
    tabindex: i === 0 ? 0 : -1, dataset: { direction: value }, onclick: () => select(i, false),
  }, text));
  const select = (i, focus) => {
    buttons.forEach((b, j) => { b.setAttribute('aria-selected', String(i === j)); b.tabIndex = i === j ? 0 : -1; });
    if (focus) buttons[i].focus();
    onSelect(TABS[i][0], buttons[i].id);
  };
  list.addEventListener('keydown', (e) => {
    const at = buttons.indexOf(document.activeElement);
    if (at < 0) return;
    const to = { ArrowRight: (at + 1) % buttons.length, ArrowLeft: (at + buttons.length - 1) % buttons.length, Home: 0, End: buttons.length - 1 }[e.key];
    if (to === undefined) return;
    e.preventDefault();
    select(to, true);
  });
  list.append(...buttons);
  return list;
}

export function registersPage(session) {
  const admin = Boolean(session && session.admin);
  const thisYear = Number(thisMonth().slice(0, 4));
  const year = h('select', { name: 'year' }, Array.from({ length: 10 }, (_, i) => thisYear - i)
    .map((y) => h('option', { value: y, selected: y === thisYear }, String(y))));
  const organ = h('input', { name: 'organ_id', placeholder: '000.00.13.H62', autocomplete: 'off', spellcheck: 'false', list: 'register-organs', value: admin ? session.organId || '' : '' });
  const organs = h('datalist', { id: 'register-organs' });
  let direction = 'outgoing';
  let items = [];
  let next = null;
  const out = h('div', {}, h('p', { class: 'muted' }, 'Đang tải…'));
  const panel = h('div', { role: 'tabpanel', id: 'register-panel', 'aria-labelledby': 'tab-outgoing', tabindex: 0 }, out);
  const fileBox = h('div');
  const more = h('button', { type: 'button', class: 'secondary', hidden: true, onclick: () => load(true) }, 'Xem thêm');
  const query = () => ({ year: year.value, ...(admin ? { organ_id: organ.value.trim() } : {}) });
  const render = (page) => {
    const caption = `Sổ văn bản ${WORD[direction]} năm ${page.year} · ${page.organ_id}: ${items.length} số${next ? ' (còn tiếp)' : ''}`;
    out.replaceChildren(direction === 'outgoing' ? outgoingTable(items, !admin, caption) : incomingTable(items, !admin, caption));
    more.hidden = !next;
  };
  const turn = newest();
  const load = async (append) => {
    const mine = turn();
    fileBox.replaceChildren();
    if (!append) { more.hidden = true; out.replaceChildren(h('p', { class: 'muted' }, 'Đang tải…')); }
    if (admin && !organ.value.trim()) {
      out.replaceChildren(h('p', { class: 'muted' }, 'Nhập mã định danh của cơ quan để xem sổ.'));
      return;
    }
    try {
      const page = await get(`/v1/registers/${direction}`, { ...query(), limit: PAGE, cursor: append ? next : undefined });
      if (!mine()) return;
      items = append ? items.concat(page.items || []) : page.items || [];
      next = page.next || null;
      render(page);
      if (append && !next) panel.focus(); // the button that had the focus is gone: stay in the register
    } catch (error) { if (mine()) { out.replaceChildren(errorBox(error)); more.hidden = true; } }
  };
  const download = async () => {
    fileBox.replaceChildren(h('p', { class: 'muted' }, 'Đang tạo tệp…'));
    try { await saveFile(`/v1/registers/${direction}`, { ...query(), format: 'xlsx' }, XLSX); fileBox.replaceChildren(); } catch (error) { fileBox.replaceChildren(errorBox(error)); }
  };
  const pickers = h('form', { class: 'card row' },
    admin ? h('div', { class: 'grow' }, field('Cơ quan (mã định danh)', organ), organs) : null,
    field('Năm', year), admin ? h('button', { type: 'submit' }, 'Xem sổ') : null,
    h('button', { type: 'button', class: 'secondary', onclick: download }, 'Tải XLSX'));
  pickers.addEventListener('submit', (e) => { e.preventDefault(); load(false); });
  year.addEventListener('change', () => load(false));
  const bar = tabs((value, tabId) => { direction = value; panel.setAttribute('aria-labelledby', tabId); load(false); });
  show(h('h1', {}, 'Sổ văn bản'),
    h('p', { class: 'muted' }, admin
      ? 'Sổ đăng ký văn bản đi và đến của một cơ quan: số cấp liên tục trong năm, từ 01, cùng trạng thái hiện tại của từng văn bản.'
      : `Sổ đăng ký văn bản đi và đến của cơ quan ${session ? session.organId : ''}: số cấp liên tục trong năm, từ 01; cổng cấp số văn bản đi khi ký, số đến khi nhận.`),
    pickers, fileBox, bar, panel, h('div', { class: 'actions' }, more));
  if (admin) {
    get('/v1/admin/agencies', { served: 'true', limit: 100 })
      .then((page) => organs.replaceChildren(...(page.items || []).map((a) => h('option', { value: a.organ_id }, a.name))))
      .catch(() => {}); // the suggestions only: the code can always be typed
  }
  load(false);
}
