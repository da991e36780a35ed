// The page: its configuration (config.json, written next to these files by the embedded stack or a deploy), the
// sign-in, the menu for clerks (văn thư) and administrators, and a hash router (#/documents, #/admin/report, …).
import * as api from './api.js';
import * as auth from './auth.js';
import * as admin from './admin.js';
import * as clerk from './clerk.js';
import * as inbox from './inbox.js';
import * as registers from './registers.js';
import * as report from './report.js';
import { errorBox, field, h, show } from './ui.js';

const CLERK_MENU = [['#/documents', 'Văn bản đi'], ['#/documents/new', 'Gửi văn bản'], ['#/inbox', 'Văn bản đến'], ['#/registers', 'Sổ văn bản'],
  ['#/verify', 'Kiểm tra chữ ký']];
const ADMIN_MENU = [['#/admin/report', 'Báo cáo tháng'], ['#/admin/agencies', 'Cơ quan'], ['#/admin/dead-letters', 'Thư lỗi'],
  ['#/admin/keys', 'Khóa ký số'], ['#/admin/audit', 'Nhật ký'], ['#/registers', 'Sổ văn bản'], ['#/verify', 'Kiểm tra chữ ký']];

const ROUTES = [
  [/^#\/documents\/new$/, () => clerk.newDocument()],
  [/^#\/documents\/([\w-]+)$/, (m) => clerk.documentDetail(m[1])],
  [/^#\/documents$/, () => clerk.documentList()],
  [/^#\/inbox\/([\w-]+)$/, (m) => inbox.inboxDetail(m[1])],
  [/^#\/inbox$/, () => inbox.inboxList()],
  [/^#\/registers$/, () => registers.registersPage(auth.current())],
  [/^#\/verify$/, () => inbox.verifyPage()],
  [/^#\/admin\/report$/, () => report.reportPage()],
  [/^#\/admin\/agencies$/, () => admin.agenciesPage()],
  [/^#\/admin\/dead-letters$/, () => admin.deadLettersPage()],
  [/^#\/admin\/keys$/, () => admin.keysPage()],
  [/^#\/admin\/audit$/, () => admin.auditPage()],
];

let leave = null; // the current page's clean-up (stops its polling)

function route() {
  if (leave) { leave(); leave = null; }
  const session = auth.current();
  if (!session) { loginPage(); return; }
  const menu = session.admin ? ADMIN_MENU : CLERK_MENU;
  const hash = location.hash || menu[0][0];
  if (!location.hash) { history.replaceState(null, '', hash); }
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.getAttribute('href') === hash || (hash.startsWith(a.getAttribute('href') + '/') && !hash.endsWith('/new'))) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const adminPage = hash.startsWith('#/admin/');
  if (adminPage && !session.admin) { show(h('h1', {}, 'Không có quyền'), h('p', {}, 'Trang này dành cho quản trị viên.')); return; }
  for (const [pattern, page] of ROUTES) {
    const m = hash.match(pattern);
    if (m) { leave = page(m) || null; return; }
  }
  show(h('h1', {}, 'Không tìm thấy trang'), h('p', {}, h('a', { href: menu[0][0] }, 'Về trang đầu')));
}

function renderChrome(session) {
  const nav = document.getElementById('nav');
  const who = document.getElementById('who');
  if (!session) { nav.hidden = true; who.hidden = true; nav.replaceChildren(); return; }
  const menu = session.admin ? ADMIN_MENU : CLERK_MENU;
  nav.replaceChildren(h('span', { class: 'group' }, session.admin ? 'Quản trị' : 'Văn thư'), ...menu.map(([href, text]) => h('a', { href }, text)));
  nav.hidden = false; who.hidden = false;
  document.getElementById('who-name').textContent = `${session.username} · ${session.organId}${session.admin ? ' · quản trị' : ''}`;
}

function loginPage() {
  const user = h('input', { name: 'username', autocomplete: 'username', required: true });
  const pass = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const box = h('div');
  const form = h('form', { class: 'card login', 'aria-labelledby': 'login-title' },
    h('h1', { id: 'login-title' }, 'Đăng nhập'), field('Tên đăng nhập', user), field('Mật khẩu', pass), box,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Đăng nhập')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    box.replaceChildren();
    const button = form.querySelector('button'); button.disabled = true;
    try {
      const result = await auth.signIn(user.value.trim(), pass.value);
      if (result.challenge) mfaPage(result);
    } catch (error) { box.replaceChildren(errorBox(error)); button.disabled = false; pass.focus(); }
  });
  show(form);
  user.focus();
}

function mfaPage(challenge) {
  const code = h('input', { name: 'code', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6}', maxlength: 6, required: true });
  const box = h('div');
  const form = h('form', { class: 'card login' }, h('h1', {}, 'Xác thực hai lớp'),
    h('p', {}, 'Nhập mã 6 chữ số trong ứng dụng xác thực của bạn.'), field('Mã xác thực', code), box,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Xác nhận')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    box.replaceChildren();
    try { await challenge.next(code.value.trim()); } catch (error) { box.replaceChildren(errorBox(error)); code.select(); }
  });
  show(form);
  code.focus();
}

async function boot() {
  let config;
  try {
    const response = await fetch('/config.json', { cache: 'no-store' });
    if (!response.ok) throw new Error(String(response.status));
    config = await response.json();
  } catch {
    show(h('h1', {}, 'Chưa cấu hình'), errorBox({ code: 'config_missing', message: 'Không đọc được tệp cấu hình config.json của trang.' }));
    return;
  }
  auth.configure(config);
  api.configure(config.api_url);
  auth.onChange((session) => { renderChrome(session); if (!session) { history.replaceState(null, '', location.pathname); } route(); });
  document.getElementById('logout').addEventListener('click', () => auth.signOut());
  window.addEventListener('hashchange', route);
  window.edoc = { auth, api }; // for the browser tests and the curious: the page's own modules
  route();
}

boot();
