// The IT centre's pages: the agency registry (register, edit, deactivate, sync from the axis directory), dead
// letters with redrive, signing keys expiring soon, and the audit trail's search.
import { get, patch, post } from './api.js';
import { errorBox, field, h, newest, notify, show, table, when } from './ui.js';

const yesNo = (v) => (v ? 'Có' : 'Không');

export function agenciesPage() {
  const q = h('input', { type: 'search', name: 'q', placeholder: 'Tên hoặc mã, ví dụ "so tai chinh"' });
  const served = h('select', { name: 'served' }, h('option', { value: '' }, 'Tất cả'), h('option', { value: 'true' }, 'Cổng phục vụ'), h('option', { value: 'false' }, 'Cơ quan ngoài'));
  const out = h('div');
  const box = h('div');
  let next = null;
  const more = h('button', { type: 'button', class: 'secondary', hidden: true, onclick: () => load(true) }, 'Xem thêm');
  let items = [];
  const render = () => {
    out.replaceChildren(table(['Mã định danh', 'Tên cơ quan', 'Cấp', 'Cổng phục vụ', 'Kèm bản giấy', 'Hoạt động', 'Nguồn', ''],
      items.map((a) => [h('span', { class: 'mono' }, a.organ_id), a.name, a.level ?? '—', yesNo(a.served), yesNo(a.paper_in_parallel),
        a.active ? h('span', { class: 'badge ok' }, 'Hoạt động') : h('span', { class: 'badge warn' }, 'Ngừng'), a.source === 'axis' ? 'Trục' : 'Tại chỗ',
        h('span', { class: 'row' }, h('button', { type: 'button', class: 'secondary', onclick: () => edit(a) }, 'Sửa'),
          h('button', { type: 'button', class: a.active ? 'danger' : 'secondary', onclick: () => toggle(a) }, a.active ? 'Ngừng' : 'Kích hoạt'))]),
    { rowAttrs: (i) => ({ dataset: { organId: items[i].organ_id } }) }));
    more.hidden = !next;
  };
  const turn = newest();
  const load = async (append) => {
    const mine = turn();
    try {
      const page = await get('/v1/admin/agencies', { q: q.value.trim(), served: served.value, limit: 100, cursor: append ? next : undefined });
      if (!mine()) return;
      items = append ? items.concat(page.items) : page.items; next = page.next || null; render();
    } catch (error) { if (mine()) out.replaceChildren(errorBox(error)); }
  };
  const toggle = async (a) => {
    box.replaceChildren();
    try { await patch(`/v1/admin/agencies/${a.organ_id}`, { active: !a.active }); notify(`${a.name}: ${a.active ? 'đã ngừng' : 'đã kích hoạt lại'}.`); load(false); } catch (error) { box.replaceChildren(errorBox(error)); }
  };
  const edit = (a) => {
    const name = h('input', { name: 'name', value: a.name });
    const short = h('input', { name: 'short_name', value: a.short_name || '' });
    const email = h('input', { name: 'email', value: (a.contact || {}).email || '' });
    const paper = h('input', { type: 'checkbox', name: 'paper', checked: a.paper_in_parallel });
    const form = h('form', { class: 'card', 'aria-labelledby': 'edit-title' }, h('h2', { id: 'edit-title' }, `Sửa ${a.organ_id}`),
      h('div', { class: 'grid' }, field('Tên cơ quan', name), field('Tên viết tắt', short), field('Thư điện tử', email),
        h('div', {}, h('label', {}, paper, ' Vẫn gửi kèm bản giấy'))),
      h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Lưu'), h('button', { type: 'button', class: 'secondary', onclick: () => form.remove() }, 'Hủy')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        await patch(`/v1/admin/agencies/${a.organ_id}`, { name: name.value.trim(), short_name: short.value.trim(), paper_in_parallel: paper.checked, contact: { email: email.value.trim() } });
        form.remove(); notify('Đã lưu.'); load(false);
      } catch (error) { form.append(errorBox(error)); }
    });
    box.replaceChildren(form); name.focus();
  };
  const code = h('input', { name: 'organ_id', placeholder: '000.00.15.H62', required: true });
  const name = h('input', { name: 'name', required: true });
  const servedNew = h('input', { type: 'checkbox', name: 'served' });
  const paperNew = h('input', { type: 'checkbox', name: 'paper_in_parallel' });
  const addBox = h('div');
  const add = h('form', { class: 'card', 'aria-labelledby': 'add-title' }, h('h2', { id: 'add-title' }, 'Đăng ký cơ quan'),
    h('div', { class: 'grid' }, field('Mã định danh', code), field('Tên cơ quan', name),
      h('div', {}, h('label', {}, servedNew, ' Cổng phục vụ cơ quan này'), h('label', {}, paperNew, ' Vẫn gửi kèm bản giấy'))), addBox,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Đăng ký')));
  add.addEventListener('submit', async (e) => {
    e.preventDefault(); addBox.replaceChildren();
    try {
      const made = await post('/v1/admin/agencies', { organ_id: code.value.trim(), name: name.value.trim(), served: servedNew.checked, paper_in_parallel: paperNew.checked });
      notify(`Đã đăng ký ${made.name} (${made.organ_id}).`); code.value = ''; name.value = ''; load(false);
    } catch (error) { addBox.replaceChildren(errorBox(error)); }
  });
  const sync = async () => {
    box.replaceChildren(h('p', { class: 'muted' }, 'Đang đồng bộ với danh bạ của Trục…'));
    try {
      const r = await post('/v1/admin/agencies/sync', {});
      box.replaceChildren(h('div', { class: 'notice', role: 'status' }, `Đồng bộ xong: thêm ${r.added.length}, đổi tên ${r.renamed.length}, ngừng ${r.withdrawn.length}, chờ duyệt ${r.held.length}, không đổi ${r.unchanged}.`));
      load(false);
    } catch (error) { box.replaceChildren(errorBox(error)); }
  };
  const filter = h('form', { class: 'card row' }, h('div', { style: 'flex:1 1 18rem' }, field('Tìm cơ quan', q)), field('Loại', served),
    h('button', { type: 'submit' }, 'Tìm'), h('button', { type: 'button', class: 'secondary', onclick: sync }, 'Đồng bộ từ Trục'));
  filter.addEventListener('submit', (e) => { e.preventDefault(); load(false); });
  show(h('h1', {}, 'Danh bạ cơ quan'), filter, box, out, h('div', { class: 'actions' }, more), add);
  load(false);
}

export function deadLettersPage() {
  const queue = h('select', { name: 'queue' }, h('option', { value: 'dispatch' }, 'Gửi lên trục (dispatch)'), h('option', { value: 'upload' }, 'Ký số (upload)'));
  const out = h('div');
  const box = h('div');
  let items = [];
  const turn = newest();
  const load = async () => {
    const mine = turn();
    try {
      const page = await get('/v1/admin/dead-letters', { queue: queue.value });
      if (!mine()) return;
      items = page.items;
      out.replaceChildren(table(['', 'Văn bản', 'Cơ quan', 'Trạng thái', { label: 'Số lần nhận', num: true }, 'Vào hàng lỗi lúc'],
        items.map((d, i) => [d.document_id ? h('input', { type: 'checkbox', 'aria-label': `Chọn ${d.document_id}`, dataset: { i } }) : '',
          h('span', { class: 'mono' }, d.document_id || d.message_id), d.organ_id || '—', d.state || '—', d.receive_count, when(d.dead_lettered_at)])),
      page.truncated ? h('p', { class: 'muted' }, 'Danh sách bị cắt bớt: gửi lại các mục này rồi xem tiếp.') : null);
    } catch (error) { if (mine()) out.replaceChildren(errorBox(error)); }
  };
  const redrive = async () => {
    box.replaceChildren();
    const chosen = [...out.querySelectorAll('input[type=checkbox]:checked')].map((c) => items[Number(c.dataset.i)].document_id);
    try {
      const r = await post('/v1/admin/dead-letters/redrive', chosen.length ? { queue: queue.value, document_ids: chosen } : { queue: queue.value });
      box.replaceChildren(h('div', { class: 'notice', role: 'status' }, `Đã đưa lại vào hàng đợi: ${(r.redriven || []).length} thư${(r.failed || []).length ? `, lỗi ${r.failed.length}` : ""}.`));
      load();
    } catch (error) { box.replaceChildren(errorBox(error)); }
  };
  queue.addEventListener('change', load);
  show(h('h1', {}, 'Thư lỗi (dead letters)'), h('p', { class: 'muted' }, 'Văn bản đã hết số lần thử ký hoặc gửi. Chọn các văn bản (hoặc không chọn gì để lấy tất cả) rồi gửi lại.'),
    h('div', { class: 'card row' }, field('Hàng đợi', queue), h('button', { type: 'button', onclick: redrive }, 'Gửi lại'), h('button', { type: 'button', class: 'secondary', onclick: load }, 'Tải lại')), box, out);
  load();
}

export function keysPage() {
  const out = h('div');
  const days = h('input', { type: 'number', name: 'days', value: 90, min: 1, max: 3650 });
  let keys = [];
  const render = () => {
    const limit = Number(days.value) || 90;
    const rows = keys.filter((k) => k.state === 'ACTIVE' || k.state === 'CERTIFIED').sort((a, b) => (a.days_left ?? 1e9) - (b.days_left ?? 1e9));
    out.replaceChildren(table(['Cơ quan', 'Khóa', 'Trạng thái', 'Hết hạn', { label: 'Còn (ngày)', num: true }, 'Chứng thư'],
      rows.map((k) => [h('span', { class: 'mono' }, k.organ_id), h('span', { class: 'mono' }, `${k.backend} · ${k.key_ref}`), k.state, when(k.not_after),
        k.days_left ?? '—', k.certificate ? k.certificate.subject : '—']),
    { rowAttrs: (i) => ({ class: rows[i].days_left !== null && rows[i].days_left !== undefined && rows[i].days_left <= limit ? 'below' : null }) }),
    h('p', { class: 'muted' }, `Tô màu: còn ${limit} ngày trở xuống — hãy xin chứng thư mới và xoay khóa (POST /v1/admin/keys/rotate).`));
  };
  days.addEventListener('input', render);
  show(h('h1', {}, 'Khóa ký số sắp hết hạn'), h('div', { class: 'card row' }, field('Cảnh báo trước (ngày)', days)), out);
  get('/v1/admin/keys').then((page) => { keys = page.items; render(); }).catch((error) => out.replaceChildren(errorBox(error)));
}

export function auditPage() {
  const f = { actor: h('input', { name: 'actor' }), organ_id: h('input', { name: 'organ_id' }), resource_id: h('input', { name: 'resource_id' }),
    from: h('input', { type: 'date', name: 'from' }), to: h('input', { type: 'date', name: 'to' }) };
  const out = h('div');
  let next = null;
  let items = [];
  const more = h('button', { type: 'button', class: 'secondary', hidden: true, onclick: () => load(true) }, 'Xem thêm');
  const turn = newest();
  const load = async (append) => {
    const mine = turn();
    try {
      const query = Object.fromEntries(Object.entries(f).map(([k, v]) => [k, v.value.trim()]));
      const page = await get('/v1/admin/audit', { ...query, limit: 100, cursor: append ? next : undefined });
      if (!mine()) return;
      items = append ? items.concat(page.items) : page.items; next = page.next || null;
      out.replaceChildren(table(['Lúc', 'Người thực hiện', 'Thao tác', 'Đối tượng', 'Kết quả', 'Từ IP'],
        items.map((e) => [when(e.at), `${e.actor.username} (${e.actor.organ_id})`, e.action, h('span', { class: 'mono' }, `${e.resource.type} ${e.resource.id || ''}`),
          e.result === 'ok' ? h('span', { class: 'badge ok' }, 'Thành công') : h('span', { class: 'badge bad' }, e.result), e.source_ip || '—'])));
      more.hidden = !next;
    } catch (error) { if (mine()) out.replaceChildren(errorBox(error)); }
  };
  const form = h('form', { class: 'card' }, h('div', { class: 'grid' }, field('Người thực hiện', f.actor), field('Cơ quan', f.organ_id),
    field('Mã đối tượng', f.resource_id), field('Từ ngày', f.from), field('Đến ngày', f.to)), h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Tìm')));
  form.addEventListener('submit', (e) => { e.preventDefault(); load(false); });
  show(h('h1', {}, 'Nhật ký thao tác'), form, out, h('div', { class: 'actions' }, more));
  load(false);
}
