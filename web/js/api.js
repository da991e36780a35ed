// The gateway's API from the browser: the ID token as a bearer token, JSON in and out, and every refusal as an
// ApiError carrying the gateway's own `{"error": {"code", "message", "details"}}` (its Vietnamese message shown).
import * as auth from './auth.js';

let base = '';
export function configure(apiUrl) { base = apiUrl.replace(/\/$/, ''); }

export class ApiError extends Error {
  constructor(status, error) {
    super(error.message);
    this.status = status; this.code = error.code; this.details = error.details || {};
  }
}

export async function api(method, path, { json, body, contentType, query, retried = false } = {}) {
  const url = new URL(base + path);
  for (const [k, v] of Object.entries(query || {})) if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, v);
  const headers = {};
  const token = auth.idToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  let payload = body;
  if (json !== undefined) { payload = JSON.stringify(json); headers['Content-Type'] = 'application/json'; }
  if (contentType) headers['Content-Type'] = contentType;
  let response;
  try {
    response = await fetch(url, { method, headers, body: payload });
  } catch {
    throw new ApiError(0, { code: 'network_error', message: 'Không kết nối được tới cổng. Vui lòng kiểm tra mạng và thử lại.' });
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (response.status === 401 && data && data.error && data.error.code === 'token_expired' && !retried && auth.current()) {
    await auth.refresh();
    return api(method, path, { json, body, contentType, query, retried: true });
  }
  if (!response.ok) {
    throw new ApiError(response.status, (data && data.error) || { code: `http_${response.status}`, message: `Cổng trả lời lỗi ${response.status}.` });
  }
  return data;
}

export const get = (path, query) => api('GET', path, { query });

/** A file the API answers (the monthly report as XLSX or CSV), saved by the browser under the gateway's name. */
export async function saveFile(path, query, accept) {
  const url = new URL(base + path);
  for (const [k, v] of Object.entries(query || {})) url.searchParams.set(k, v);
  const response = await fetch(url, { headers: { Authorization: `Bearer ${auth.idToken()}`, Accept: accept } });
  if (!response.ok) {
    const data = await response.json().catch(() => null);
    throw new ApiError(response.status, (data && data.error) || { code: `http_${response.status}`, message: `Cổng trả lời lỗi ${response.status}.` });
  }
  const name = /filename="([^"]+)"/.exec(response.headers.get('Content-Disposition') || '');
  const link = document.createElement('a');
  link.href = URL.createObjectURL(await response.blob());
  link.download = name ? name[1] : 'bao-cao';
  document.body.append(link);
  link.click();
  setTimeout(() => { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
}
export const post = (path, json) => api('POST', path, { json: json || {} });
export const patch = (path, json) => api('PATCH', path, { json });

/** The presigned POST straight to S3 (`fields` then `file`), with its progress: `onProgress(loaded, total)`. */
export function uploadForm(upload, file, onProgress) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const [k, v] of Object.entries(upload.fields)) form.append(k, v);
    form.append('file', file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open('POST', upload.url);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded, e.total); };
    xhr.onload = () => (xhr.status < 300 ? resolve(xhr.status)
      : reject(new ApiError(xhr.status, { code: 'upload_failed', message: `Tải tệp lên không thành công (HTTP ${xhr.status}).` })));
    xhr.onerror = () => reject(new ApiError(0, { code: 'upload_failed', message: 'Tải tệp lên không thành công: mất kết nối tới kho lưu trữ.' }));
    xhr.send(form);
  });
}

/** Active agencies by name or code (GET /v1/agencies), remembered for names in lists. */
const names = new Map();
export async function agencies(q) {
  const found = await get('/v1/agencies', { q, limit: 20 });
  for (const a of found.items) names.set(a.organ_id, a.name);
  return found.items;
}
export function agencyName(code) { return names.get(code) || ''; }
export function rememberAgency(code, name) { if (code && name) names.set(code, name); }
