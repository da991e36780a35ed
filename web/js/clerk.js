// A clerk's (văn thư's) outgoing documents: the list with state badges, the new-document form under the NĐ 30
// names, the upload straight to S3 with a progress bar, then the live timeline and each recipient's status.
import { ApiError, agencies, agencyName, api, get, post, rememberAgency, uploadForm } from './api.js';
import {
  DELIVERY, DOC_TYPES, SECRECY, STATES, URGENCY, badge, day, dropZone, errorBox, field, fold, h, markInvalid, notify,
  newest, options, show, sizeText, table, when,
} from './ui.js';

const FINAL = new Set(['REJECTED', 'FAILED', 'REVOKED', 'EXPIRED']);
const ANSWERED = new Set(['REJECTED', 'COMPLETED']);

export function documentList() {
  const search = h('input', { type: 'search', placeholder: 'Số, ký hiệu hoặc trích yếu…' });
  const state = h('select', {}, h('option', { value: '' }, 'Mọi trạng thái'), options(Object.fromEntries(Object.entries(STATES).map(([k, v]) => [k, v[0]]))));
  const out = h('div', {}, h('p', { class: 'muted' }, 'Đang tải…'));
  let items = [];
  let next = null;
  const more = h('button', { type: 'button', class: 'secondary', hidden: true, onclick: () => load(true) }, 'Xem thêm');
  const render = () => {
    const words = fold(search.value).split(/\s+/).filter(Boolean);
    const shown = items.filter((d) => {
      const m = d.metadata || {};
      const text = fold(`${m.number || ''} ${m.notation || ''} ${m.subject || ''} ${(m.recipients || []).join(' ')}`);
      return words.every((w) => text.includes(w));
    });
    out.replaceChildren(table(['Số / Ký hiệu', 'Trích yếu', 'Ngày ban hành', 'Trạng thái', { label: 'Cập nhật', num: false }],
      shown.map((d) => [
        h('a', { href: `#/documents/${d.document_id}` }, `${d.metadata.number || '(chưa số)'}/${d.metadata.notation || ''}`),
        d.metadata.subject, day(d.metadata.issued_on), badge(STATES, d.state), when(d.updated_at)])));
    more.hidden = !next;
  };
  const turn = newest();
  const load = async (append) => {
    const mine = turn();
    try {
      const page = await get('/v1/documents', { state: state.value, limit: 100, cursor: append ? next : undefined });
      if (!mine()) return;
      items = append ? items.concat(page.items) : page.items;
      next = page.next || null;
      render();
    } catch (error) { if (mine()) out.replaceChildren(errorBox(error)); }
  };
  search.addEventListener('input', render);
  state.addEventListener('change', () => load(false));
  show(h('h1', {}, 'Văn bản đi'),
    h('div', { class: 'row card' }, h('div', { style: 'flex:1 1 18rem' }, field('Tìm kiếm', search)), field('Trạng thái', state),
      h('a', { class: 'button', href: '#/documents/new' }, 'Gửi văn bản mới')),
    out, h('div', { class: 'actions' }, more));
  load(false);
}

/** Nơi nhận: a combobox over GET /v1/agencies (name or code, accents aside), the picked ones as removable chips. */
function recipientPicker() {
  const picked = new Map();
  const input = h('input', { type: 'text', role: 'combobox', 'aria-autocomplete': 'list', 'aria-expanded': 'false', autocomplete: 'off', placeholder: 'Gõ tên hoặc mã định danh, ví dụ "so noi vu" hoặc "G22"' });
  const listId = `suggest-${Math.random().toString(36).slice(2, 8)}`;
  const list = h('ul', { class: 'suggest', role: 'listbox', id: listId, hidden: true, 'aria-label': 'Cơ quan tìm thấy' });
  input.setAttribute('aria-controls', listId);
  const chips = h('ul', { class: 'chips', 'aria-label': 'Nơi nhận đã chọn' });
  let found = [];
  let active = -1;
  let timer = null;
  const close = () => { list.hidden = true; input.setAttribute('aria-expanded', 'false'); input.removeAttribute('aria-activedescendant'); active = -1; };
  const renderChips = () => chips.replaceChildren(...[...picked].map(([code, name]) => h('li', { dataset: { organId: code } },
    `${name} (${code})`, h('button', { type: 'button', class: 'secondary', 'aria-label': `Bỏ ${name}`, onclick: () => { picked.delete(code); renderChips(); input.focus(); } }, '×'))));
  const pick = (a) => { picked.set(a.organ_id, a.name); renderChips(); input.value = ''; close(); input.focus(); };
  const highlight = (i) => {
    active = i;
    [...list.children].forEach((li, j) => li.setAttribute('aria-selected', String(j === i)));
    if (i >= 0) input.setAttribute('aria-activedescendant', `${listId}-${i}`);
  };
  const turn = newest();
  const search = async () => {
    const q = input.value.trim();
    const mine = turn();
    if (!q) { close(); return; }
    try { found = (await agencies(q)).filter((a) => !picked.has(a.organ_id)); } catch { found = []; }
    if (!mine()) return;
    list.replaceChildren(...found.map((a, i) => h('li', { role: 'option', id: `${listId}-${i}`, 'aria-selected': 'false', dataset: { organId: a.organ_id },
      onmousedown: (e) => { e.preventDefault(); pick(a); } }, `${a.name} `, h('span', { class: 'muted' }, a.organ_id))));
    if (!found.length) list.replaceChildren(h('li', { class: 'muted', role: 'option', 'aria-disabled': 'true' }, 'Không tìm thấy cơ quan nào.'));
    list.hidden = false; input.setAttribute('aria-expanded', 'true'); highlight(found.length ? 0 : -1);
  };
  input.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(search, 200); });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown' && found.length) { e.preventDefault(); highlight(Math.min(active + 1, found.length - 1)); }
    else if (e.key === 'ArrowUp' && found.length) { e.preventDefault(); highlight(Math.max(active - 1, 0)); }
    else if (e.key === 'Enter' && !list.hidden && active >= 0 && found[active]) { e.preventDefault(); pick(found[active]); }
    else if (e.key === 'Escape') close();
  });
  input.addEventListener('blur', () => setTimeout(close, 150));
  const node = h('div', { class: 'wide' }, field('Nơi nhận', input, '(chọn từ danh bạ; Enter để thêm)'), h('div', { class: 'combo' }, list), chips);
  const add = (code, name) => { if (!picked.has(code)) { picked.set(code, name || agencyName(code) || code); renderChips(); } };
  return { node, codes: () => [...picked.keys()], input, add };
}

export function newDocument() {
  const f = {
    number: h('input', { name: 'number', maxlength: 20, inputmode: 'numeric', pattern: '[0-9]*' }), notation: h('input', { name: 'notation', placeholder: 'UBND-VX3' }),
    type: h('select', { name: 'type' }, options(Object.fromEntries(Object.entries(DOC_TYPES).map(([k, v]) => [k, `${v} (${k})`])), 'CV')),
    subject: h('textarea', { name: 'subject', required: true }), issued_on: h('input', { type: 'date', name: 'issued_on', required: true }),
    place: h('input', { name: 'place', required: true }), full_name: h('input', { name: 'signer_full_name', required: true }),
    position: h('input', { name: 'signer_position', required: true }), competence: h('input', { name: 'signer_competence', placeholder: 'TL. CHỦ TỊCH' }),
    urgency: h('select', { name: 'urgency' }, options(URGENCY, 'normal')), secrecy: h('select', { name: 'secrecy' }, options(SECRECY, 'none')),
  };
  f.issued_on.value = new Date().toLocaleString('sv-SE', { timeZone: 'Asia/Ho_Chi_Minh' }).slice(0, 10);
  const recipients = recipientPicker();
  let main = null;
  const annexes = [];
  const mainList = h('ul', { class: 'files', 'aria-live': 'polite' });
  const annexList = h('ul', { class: 'files', 'aria-live': 'polite' });
  const renderFiles = () => {
    mainList.replaceChildren(...(main ? [h('li', {}, `${main.name} · ${sizeText(main.size)}`)] : []));
    annexList.replaceChildren(...annexes.map((a, i) => h('li', {}, h('span', {}, `Phụ lục ${i + 1}: ${a.name} · ${sizeText(a.size)}`),
      h('button', { type: 'button', class: 'secondary', 'aria-label': `Bỏ phụ lục ${a.name}`, onclick: () => { annexes.splice(i, 1); renderFiles(); } }, 'Bỏ'))));
  };
  const drafted = h('div', { 'aria-live': 'polite' });
  // Issue 12: the metadata the document's own text gives (POST /v1/documents/draft) fills the fields the clerk left
  // empty; every filled field is marked, the reader's warnings are shown, and the clerk still checks and sends.
  const fillFromDraft = async (file) => {
    if (!file || file.size > 5 * 1024 * 1024) return;
    drafted.replaceChildren(h('p', { class: 'muted' }, 'Đang đọc thông tin từ văn bản…'));
    let answer;
    try { answer = await api('POST', '/v1/documents/draft', { body: file, contentType: 'application/pdf' }); } catch (error) {
      drafted.replaceChildren(h('p', { class: 'muted' }, `Không đọc được thông tin từ văn bản: ${error.message}`));
      return;
    }
    const md = answer.metadata || {};
    const filled = [];
    const put = (input, value, label) => { if (value && !input.value.trim()) { input.value = value; input.dataset.drafted = 'true'; filled.push(label); } };
    put(f.number, md.number, 'Số'); put(f.notation, md.notation, 'Ký hiệu'); put(f.subject, md.subject, 'Trích yếu');
    put(f.place, md.place, 'Địa danh');
    if (md.issued_on && md.issued_on.length === 10) { f.issued_on.value = md.issued_on; filled.push('Ngày ban hành'); }
    if (md.type && DOC_TYPES[md.type]) { f.type.value = md.type; filled.push('Loại văn bản'); }
    const signer = md.signer || {};
    put(f.full_name, signer.full_name, 'Người ký'); put(f.position, signer.position, 'Chức vụ'); put(f.competence, signer.competence, 'Thẩm quyền ký');
    if (!recipients.codes().length) {
      for (const entry of answer.recipients || []) for (const code of entry.organ_ids || []) if (!entry.paper) recipients.add(code);
      if (recipients.codes().length) filled.push('Nơi nhận');
    }
    drafted.replaceChildren(h('div', { class: 'card', role: 'status' },
      h('p', {}, filled.length ? `Đã điền từ văn bản: ${filled.join(', ')}. Vui lòng kiểm tra trước khi gửi.` : 'Văn bản không cho biết thêm thông tin nào.'),
      ...(answer.warnings || []).map((w) => h('p', { class: 'muted' }, w.message))));
  };
  const mainZone = dropZone({ label: 'Tệp văn bản (PDF)', onFiles: ([file]) => { main = file || main; renderFiles(); fillFromDraft(file); } });
  mainZone.input.name = 'file';
  const annexZone = dropZone({ label: 'Phụ lục (PDF, không bắt buộc)', multiple: true, onFiles: (files) => { annexes.push(...files); renderFiles(); } });
  annexZone.input.name = 'attachments';
  const box = h('div');
  const progress = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit' }, 'Ký số và gửi');
  const form = h('form', { class: 'card', novalidate: true },
    h('div', { class: 'grid' }, field('Số', f.number, '(để trống: cổng cấp số khi ký)'), field('Ký hiệu', f.notation), field('Loại văn bản', f.type),
      field('Ngày ban hành', f.issued_on), field('Địa danh', f.place),
      h('div', { class: 'wide' }, field('Trích yếu', f.subject)),
      field('Người ký', f.full_name), field('Chức vụ', f.position), field('Thẩm quyền ký', f.competence, '(KT., TL., TM.)'),
      field('Độ khẩn', f.urgency), field('Độ mật', f.secrecy), recipients.node,
      h('div', {}, mainZone, mainList, drafted), h('div', {}, annexZone, annexList)),
    box, progress, h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    box.replaceChildren();
    if (!main) { box.replaceChildren(errorBox({ code: 'file_missing', message: 'Vui lòng chọn tệp PDF của văn bản.' })); return; }
    const metadata = {
      number: f.number.value.trim(), notation: f.notation.value.trim(), type: f.type.value, subject: f.subject.value.trim(),
      issued_on: f.issued_on.value, place: f.place.value.trim(),
      signer: { full_name: f.full_name.value.trim(), position: f.position.value.trim(), competence: f.competence.value.trim() },
      urgency: f.urgency.value, secrecy: f.secrecy.value, recipients: recipients.codes(),
    };
    if (annexes.length) metadata.attachments = annexes.map((a, i) => ({ name: `Phụ lục ${i + 1}`, file_name: a.name }));
    submit.disabled = true;
    try {
      const created = await post('/v1/documents', metadata);
      const parts = [[created.upload, main, 'Văn bản']].concat((created.attachment_uploads || []).map((u) => [u, annexes[u.index - 1] || annexes[0], u.name]));
      const bars = parts.map(([, file, name]) => {
        const bar = h('progress', { max: 100, value: 0, 'aria-label': `Tải lên ${name}` });
        progress.append(h('div', {}, h('label', {}, `Đang tải lên ${name}: ${file.name}`), bar));
        return bar;
      });
      await Promise.all(parts.map(([upload, file], i) => uploadForm(upload, file, (done, total) => { bars[i].value = Math.round((100 * done) / total); })
        .then(() => { bars[i].value = 100; })));
      notify('Đã tải tệp lên. Cổng đang ký số và gửi văn bản.');
      location.hash = `#/documents/${created.document_id}`;
    } catch (error) {
      box.replaceChildren(errorBox(error)); submit.disabled = false;
      const invalid = markInvalid(form, error);
      box.querySelector('[role=alert]').scrollIntoView({ block: 'center' });
      if (invalid) invalid.focus({ preventScroll: true });
    }
  });
  show(h('h1', {}, 'Gửi văn bản mới'), h('p', { class: 'muted' }, 'Cổng ký số văn bản bằng chữ ký số của cơ quan rồi gửi tới từng nơi nhận qua Trục liên thông văn bản quốc gia.'), form);
}

function deliveryRows(doc) {
  return (doc.deliveries || []).map((d) => {
    const last = (d.history || []).slice(-1)[0] || {};
    const reason = d.reason || last.reason || last.description;
    return [
      h('span', {}, agencyName(d.organ_id) || d.organ_id, h('br'), h('span', { class: 'muted mono' }, d.organ_id)),
      h('span', {}, badge(DELIVERY, d.status, d.status_code ? `${d.status_code} ${d.status_meaning || ''}` : d.status),
        reason ? h('div', { class: 'muted' }, `Lý do: ${reason}`) : null),
      d.revocation ? h('span', {}, `Thu hồi: ${d.revocation.status === 'AGREED' ? 'đồng ý (15)' : d.revocation.status === 'REFUSED' ? 'từ chối (16)' : d.revocation.status}`) : d.removed ? 'Đã bỏ khỏi nơi nhận' : '—',
      when(d.updated_at),
    ];
  });
}

export function documentDetail(id) {
  let timer = null;
  let stopped = false;
  let shown = '';
  const view = h('div', {}, h('p', { class: 'muted' }, 'Đang tải…'));
  const link = h('div', { 'aria-live': 'polite' });
  const title = h('h1', {}, 'Văn bản');
  const amend = h('div');
  show(title, view, amend);
  const render = (doc) => {
    const m = doc.metadata || {};
    title.textContent = `Văn bản ${m.number || '(chưa số)'}/${m.notation || ''}`;
    for (const code of m.recipients || []) if (!agencyName(code)) agencies(code).catch(() => {});
    const actions = h('div', { class: 'actions' });
    if (doc.state === 'DISPATCHED' || doc.state === 'REVOKED') {
      actions.append(h('button', { type: 'button', onclick: () => download(doc) }, 'Lấy bản đã ký số (PDF)'));
      for (const a of doc.attachments || []) {
        actions.append(h('button', { type: 'button', class: 'secondary', onclick: () => download(doc, a) }, `Lấy ${a.name} đã ký số`));
      }
    }
    if (doc.state === 'DISPATCHED') actions.append(h('button', { type: 'button', class: 'danger', onclick: () => revoke(doc) }, 'Thu hồi văn bản'));
    if (doc.state === 'DISPATCHED') actions.append(h('button', { type: 'button', class: 'secondary', onclick: () => updateRecipients(doc) }, 'Cập nhật nơi nhận'));
    view.replaceChildren(
      h('div', { class: 'card' }, h('p', {}, badge(STATES, doc.state), doc.reason ? h('span', { class: 'error', style: 'display:inline-block;margin-left:.6rem', dataset: { code: doc.reason } }, `Lý do: ${doc.reason}`) : null,
        doc.pades_level ? h('span', { class: 'muted' }, ` · chữ ký PAdES ${doc.pades_level}`) : null),
      h('dl', { class: 'meta' },
        h('dt', {}, 'Số, ký hiệu'), h('dd', {}, `${m.number || '(chưa số)'}/${m.notation || ''}`),
        h('dt', {}, 'Loại văn bản'), h('dd', {}, DOC_TYPES[m.type] || m.type),
        h('dt', {}, 'Trích yếu'), h('dd', {}, m.subject),
        h('dt', {}, 'Ngày ban hành'), h('dd', {}, `${m.place || ''}, ${day(m.issued_on)}`),
        h('dt', {}, 'Người ký'), h('dd', {}, `${m.signer ? `${m.signer.competence ? m.signer.competence + ' · ' : ''}${m.signer.position} ${m.signer.full_name}` : ''}`),
        h('dt', {}, 'Độ khẩn'), h('dd', {}, URGENCY[m.urgency] || m.urgency),
        (doc.attachments || []).length ? [h('dt', {}, 'Phụ lục'), h('dd', {}, doc.attachments.map((a) => a.name).join('; '))] : null,
        h('dt', {}, 'Mã văn bản'), h('dd', { class: 'mono' }, doc.document_id)), actions, link),
      h('div', { class: 'two' },
        h('section', { class: 'card', 'aria-labelledby': 'tl' }, h('h2', { id: 'tl' }, 'Diễn biến'),
          h('ol', { class: 'timeline' }, (doc.timeline || []).map((t) => h('li', { dataset: { state: t.state } }, badge(STATES, t.state), h('time', { datetime: t.at }, when(t.at)))))),
        h('section', { class: 'card', 'aria-labelledby': 'dl' }, h('h2', { id: 'dl' }, 'Nơi nhận'),
          table(['Cơ quan', 'Tình trạng', 'Thu hồi / cập nhật', 'Cập nhật'], deliveryRows(doc), { rowAttrs: (i) => ({ dataset: { organId: doc.deliveries[i].organ_id } }) }))));
  };
  const download = async (doc, part) => {
    try {
      const got = await get(`/v1/documents/${doc.document_id}/signed`, part ? { part: `att-${part.index}` } : {});
      link.replaceChildren(h('p', {}, h('a', { href: got.url, id: part ? `signed-link-att-${part.index}` : 'signed-link', rel: 'noopener' },
        part ? `Tải ${part.name} đã ký số` : 'Tải bản đã ký số'),
        h('span', { class: 'muted' }, ` (liên kết dùng được đến ${when(got.expires_at)})`)));
      link.querySelector('a').focus();
    } catch (error) { link.replaceChildren(errorBox(error)); }
  };
  const closeAmend = () => amend.replaceChildren();
  const amendForm = (titleText, intro, controls, submitText, send) => {
    const box = h('div');
    const form = h('form', { class: 'card', 'aria-labelledby': 'amend-title' }, h('h2', { id: 'amend-title' }, titleText),
      h('p', { class: 'muted' }, intro), controls, box,
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'danger' }, submitText),
        h('button', { type: 'button', class: 'secondary', onclick: closeAmend }, 'Hủy')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      box.replaceChildren();
      try { render(await send()); closeAmend(); } catch (error) { box.replaceChildren(errorBox(error)); markInvalid(form, error); }
    });
    amend.replaceChildren(form);
    form.querySelector('textarea, input').focus();
  };
  const revoke = (doc) => {
    const reason = h('textarea', { name: 'reason', maxlength: 1000, required: true });
    amendForm('Thu hồi văn bản', 'Cổng gửi yêu cầu thu hồi tới mọi nơi nhận; mỗi nơi trả lời đồng ý (15) hoặc từ chối (16).',
      field('Lý do thu hồi', reason), 'Gửi yêu cầu thu hồi', async () => {
        const answer = await post(`/v1/documents/${doc.document_id}/revoke`, { reason: reason.value.trim() });
        notify('Đã gửi yêu cầu thu hồi tới các nơi nhận.');
        return answer;
      });
  };
  const updateRecipients = (doc) => {
    const picker = recipientPicker();
    const current = (doc.deliveries || []).filter((d) => !d.removed).map((d) => h('label', { class: 'hint' },
      h('input', { type: 'checkbox', name: 'remove', value: d.organ_id }), ` Bỏ ${agencyName(d.organ_id) || d.organ_id}`));
    const reason = h('textarea', { name: 'reason', maxlength: 1000, required: true });
    amendForm('Cập nhật nơi nhận', 'Nơi nhận mới nhận văn bản; các nơi nhận cũ nhận danh sách nơi nhận đã cập nhật.',
      h('div', { class: 'grid' }, picker.node, h('div', { class: 'wide' }, current), h('div', { class: 'wide' }, field('Lý do cập nhật', reason))),
      'Gửi cập nhật', async () => {
        const body = { reason: reason.value.trim() };
        const added = picker.codes();
        const removed = [...amend.querySelectorAll('input[name=remove]:checked')].map((c) => c.value);
        if (added.length) body.recipients_added = added;
        if (removed.length) body.recipients_removed = removed;
        const answer = await post(`/v1/documents/${doc.document_id}/update`, body);
        notify('Đã gửi cập nhật nơi nhận.');
        return answer;
      });
  };
  const poll = async () => {
    try {
      const doc = await get(`/v1/documents/${id}`);
      if (stopped) return;
      const seen = `${doc.updated_at}|${doc.state}|${JSON.stringify(doc.deliveries || [])}|${(doc.metadata.recipients || []).map(agencyName).join()}`;
      if (seen !== shown) { shown = seen; render(doc); } // unchanged: the page (and the focus in it) stays as it is
      const settled = FINAL.has(doc.state) || (doc.state === 'DISPATCHED' && (doc.deliveries || []).every((d) => ANSWERED.has(d.status)));
      if (!settled) timer = setTimeout(poll, doc.state === 'DISPATCHED' ? 5000 : 1000);
    } catch (error) {
      if (!stopped) view.replaceChildren(errorBox(error));
      if (error instanceof ApiError && error.status === 0 && !stopped) timer = setTimeout(poll, 5000);
    }
  };
  poll();
  return () => { stopped = true; clearTimeout(timer); };
}

export { rememberAgency };
