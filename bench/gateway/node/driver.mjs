// Drives the gateway scorecard's calls through the official Node SDKs (@anthropic-ai/sdk and
// openai), their own retries off (maxRetries: 0) so that what recovers is the gateway. It reads
// one call a line (JSON) on stdin and writes one result a line on stdout, calls running
// concurrently; the shapes are Call and Result in ../call.go.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import readline from 'node:readline';

const clients = new Map();
function client(c) {
  const k = `${c.provider} ${c.base_url} ${c.api_key}`;
  let cl = clients.get(k);
  if (!cl) {
    const opts = { baseURL: c.base_url, apiKey: c.api_key, maxRetries: 0, timeout: 600000 };
    cl = c.provider === 'openai' ? new OpenAI(opts) : new Anthropic(opts);
    clients.set(k, cl);
  }
  return cl;
}

function headersOf(h) {
  const out = {};
  if (!h) return out;
  h.forEach((v, k) => { out[k.toLowerCase()] = v; });
  return out;
}

function errorOf(e, timedOut, inStream) {
  if (timedOut) return { kind: 'timeout', message: String(e?.message ?? e) };
  if (e && typeof e.status === 'number' && e.status > 0) {
    return { kind: 'api', status: e.status, type: e.type ?? e.error?.error?.type ?? e.error?.type ?? '',
      code: e.errorCode ?? e.code ?? '', message: String(e.message) };
  }
  if (e && e.constructor && /APIError$/.test(e.constructor.name) && inStream) {
    // an error event inside a 200 stream: the SDKs raise an APIError without a status
    const body = e.error ?? {};
    return { kind: 'stream', type: e.type ?? body?.error?.type ?? body?.type ?? '', message: String(e.message) };
  }
  const name = e?.constructor?.name ?? '';
  if (/Timeout/.test(name)) return { kind: 'timeout', message: String(e.message) };
  return { kind: 'transport', message: `${name}: ${e?.message ?? e}` };
}

function anthropicParams(c) {
  const p = { model: c.model, max_tokens: c.max_tokens, messages: [] };
  if (c.system) p.system = c.system;
  for (const m of c.messages) {
    const content = [];
    for (const tr of m.tool_results ?? []) content.push({ type: 'tool_result', tool_use_id: tr.id, content: tr.content });
    if (m.text) content.push({ type: 'text', text: m.text });
    for (const tc of m.tool_calls ?? []) content.push({ type: 'tool_use', id: tc.id, name: tc.name, input: JSON.parse(tc.input || '{}') });
    p.messages.push({ role: m.role, content });
  }
  if (c.tools?.length) p.tools = c.tools.map(t => ({ name: t.name, description: t.description, input_schema: { type: 'object', ...t.schema } }));
  return p;
}

function openaiParams(c) {
  const p = { model: c.model, max_completion_tokens: c.max_tokens, messages: [] };
  if (c.system) p.messages.push({ role: 'system', content: c.system });
  for (const m of c.messages) {
    for (const tr of m.tool_results ?? []) p.messages.push({ role: 'tool', tool_call_id: tr.id, content: tr.content });
    if (m.role === 'assistant') {
      const a = { role: 'assistant' };
      if (m.text) a.content = m.text;
      if (m.tool_calls?.length) a.tool_calls = m.tool_calls.map(tc => ({ id: tc.id, type: 'function', function: { name: tc.name, arguments: tc.input } }));
      p.messages.push(a);
    } else if (m.text) {
      p.messages.push({ role: 'user', content: m.text });
    }
  }
  if (c.tools?.length) p.tools = c.tools.map(t => ({ type: 'function', function: { name: t.name, description: t.description, parameters: t.schema } }));
  return p;
}

async function anthropicCall(c, r, signal, start) {
  const cl = client(c);
  const p = anthropicParams(c);
  if (!c.stream) {
    const { data, response } = await cl.messages.create(p, { signal }).withResponse();
    r.headers = headersOf(response.headers);
    r.first_ms = performance.now() - start;
    for (const b of data.content) {
      if (b.type === 'text') r.text += b.text;
      if (b.type === 'tool_use') r.tool_calls.push({ id: b.id, name: b.name, input: JSON.stringify(b.input) });
    }
    r.stop_reason = data.stop_reason ?? '';
    r.model = data.model ?? '';
    r.usage = !!data.usage;
    return;
  }
  const { data: stream, response } = await cl.messages.create({ ...p, stream: true }, { signal }).withResponse();
  r.headers = headersOf(response.headers);
  const blocks = [];
  for await (const ev of stream) {
    switch (ev.type) {
      case 'message_start':
        r.starts++;
        r.model = ev.message.model ?? '';
        r.usage = !!ev.message.usage;
        break;
      case 'content_block_start':
        blocks[ev.index] = { ...ev.content_block, json: '' };
        break;
      case 'content_block_delta':
        if (!r.first_ms) r.first_ms = performance.now() - start;
        if (ev.delta.type === 'text_delta') { r.text += ev.delta.text; }
        if (ev.delta.type === 'input_json_delta' && blocks[ev.index]) blocks[ev.index].json += ev.delta.partial_json;
        break;
      case 'message_delta':
        r.stop_reason = ev.delta.stop_reason ?? '';
        break;
    }
  }
  for (const b of blocks) {
    if (b && b.type === 'tool_use') r.tool_calls.push({ id: b.id, name: b.name, input: b.json || '{}' });
  }
}

async function openaiCall(c, r, signal, start) {
  const cl = client(c);
  const p = openaiParams(c);
  if (!c.stream) {
    const { data, response } = await cl.chat.completions.create(p, { signal }).withResponse();
    r.headers = headersOf(response.headers);
    r.first_ms = performance.now() - start;
    const ch = data.choices?.[0];
    r.text = ch?.message?.content ?? '';
    r.stop_reason = ch?.finish_reason ?? '';
    for (const tc of ch?.message?.tool_calls ?? []) r.tool_calls.push({ id: tc.id, name: tc.function.name, input: tc.function.arguments });
    r.model = data.model ?? '';
    r.usage = !!data.usage;
    return;
  }
  const { data: stream, response } = await cl.chat.completions.create({ ...p, stream: true, stream_options: { include_usage: true } }, { signal }).withResponse();
  r.headers = headersOf(response.headers);
  const ids = new Set();
  const calls = [];
  for await (const ch of stream) {
    if (!ids.has(ch.id)) { ids.add(ch.id); r.starts++; }
    r.model = ch.model ?? r.model;
    if (ch.usage) r.usage = true;
    const choice = ch.choices?.[0];
    if (!choice) continue;
    const d = choice.delta ?? {};
    if ((d.content || d.tool_calls?.length) && !r.first_ms) r.first_ms = performance.now() - start;
    if (d.content) r.text += d.content;
    for (const tc of d.tool_calls ?? []) {
      const x = calls[tc.index] ?? (calls[tc.index] = { id: '', name: '', input: '' });
      if (tc.id) x.id = tc.id;
      if (tc.function?.name) x.name = tc.function.name;
      if (tc.function?.arguments) x.input += tc.function.arguments;
    }
    if (choice.finish_reason) r.stop_reason = choice.finish_reason;
  }
  for (const x of calls) if (x) r.tool_calls.push(x);
}

async function run(c) {
  const r = { id: c.id, ok: false, text: '', stop_reason: '', model: '', tool_calls: [], usage: false, starts: 0, headers: {}, elapsed_ms: 0, first_ms: 0 };
  const ac = new AbortController();
  let timedOut = false;
  const timer = c.timeout_ms > 0 ? setTimeout(() => { timedOut = true; ac.abort(); }, c.timeout_ms) : null;
  const start = performance.now();
  let inStream = false;
  try {
    inStream = c.stream;
    if (c.provider === 'openai') await openaiCall(c, r, ac.signal, start);
    else await anthropicCall(c, r, ac.signal, start);
    r.ok = !timedOut;
    if (timedOut) r.error = { kind: 'timeout', message: 'the call timed out' };
  } catch (e) {
    if (e?.headers && !Object.keys(r.headers).length) r.headers = headersOf(e.headers);
    r.error = errorOf(e, timedOut, inStream);
  } finally {
    if (timer) clearTimeout(timer);
  }
  r.elapsed_ms = performance.now() - start;
  return r;
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', line => {
  if (!line.trim()) return;
  const c = JSON.parse(line);
  run(c).then(r => process.stdout.write(JSON.stringify(r) + '\n'));
});
rl.on('close', () => {});
