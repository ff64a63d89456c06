// The live session's 3D page: the stream of `rehab live --serve` (rehab/stream/frames.py)
// drawn with three.js (vendored in ./vendor, loaded by relative path: no network beyond this
// page's own server). The WebSocket is /stream on the page's own origin, with the page's
// ?token= passed on.
//
// Axes. MediaPipe's world landmarks are metres with the origin between the hips, x toward
// the image's right (the patient's LEFT when facing the camera), y DOWN, z AWAY from the
// camera. three.js is y-up and right-handed, its default camera looking down -z. We show the
// patient as a mirror would: three = (-x, -y, -z). The head is up, the figure faces +z (toward
// the viewer, who looks down -z), and the patient's left limbs appear on the viewer's left,
// as in a mirror. It is a reflection (a mirror image: lengths and angles unchanged). Each
// frame the figure is lifted so its lowest foot landmark stands on the floor (y = 0), since
// MediaPipe's origin moves with the hips.
//
// The arc. At the vertex of `angle.joint` = [a, vertex, b], in the plane of the angle's zero
// direction and the second segment (vertex -> b):
//   - zero direction: flexion angles (knee, elbow) 0 = straight: the continuation of the
//     first segment (a -> vertex, prolonged); hip and shoulder angles 0 = limb along the trunk
//     downward: the trunk midline mid-shoulder -> mid-hip; ankle 0 = foot at right angles to
//     the shank;
//   - the translucent green sector spans `angle.target` [min, max] degrees from the zero
//     direction, turning toward the second segment;
//   - the white (green when inside the target) band spans 0 .. `angle.deg`, the angle the
//     session measured, with its value on a label.
// The session measures in the body's sagittal or frontal plane (or the image), so the band's
// end lies on the drawn segment only when the limb moves in that plane: an approximate but
// honest drawing of the measured number, not a second measurement.

import * as THREE from './vendor/three.module.min.js';
import { OrbitControls } from './vendor/OrbitControls.js';
import { VRButton } from './vendor/VRButton.js';

// --- what tests (and curious people) can read ------------------------------------------------
const rehabStatus = { connected: false, frames: 0, lastSeq: null, reps: 0, status: 'connecting' };
window.rehabStatus = rehabStatus;

const $ = (id) => document.getElementById(id);
const COLORS = {
  background: 0x0e151d, bone: 0x4fc3f7, joint: 0xe1f5fe, dim: 0x5c6b78, segment: 0xffb300,
  target: 0x66bb6a, arc: 0xffffff, arcIn: 0x00e676, gridMain: 0x4a5b6b, grid: 0x24313d,
};
const TONES = new Set(['good', 'fix', 'warn', 'info']);
const FEET = [27, 28, 29, 30, 31, 32];
const L_SH = 11, R_SH = 12, L_HIP = 23, R_HIP = 24, L_EAR = 7, R_EAR = 8, NOSE = 0;
const VR_DISTANCE = 1.5; // metres in front of the viewer in VR

// --- scene --------------------------------------------------------------------------------
const container = $('view');
const renderer = new THREE.WebGLRenderer({ antialias: true });
renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
renderer.setSize(window.innerWidth, window.innerHeight);
renderer.xr.enabled = true;
renderer.xr.setReferenceSpaceType('local-floor');
container.appendChild(renderer.domElement);

const scene = new THREE.Scene();
scene.background = new THREE.Color(COLORS.background);
scene.add(new THREE.HemisphereLight(0xdfefff, 0x1a2630, 2.2));
const sun = new THREE.DirectionalLight(0xffffff, 1.6);
sun.position.set(1.5, 3, 2.5);
scene.add(sun);

const grid = new THREE.GridHelper(6, 24, COLORS.gridMain, COLORS.grid);
scene.add(grid);

const camera = new THREE.PerspectiveCamera(40, window.innerWidth / window.innerHeight, 0.05, 50);
camera.position.set(-0.8, 1.25, 2.75);
const controls = new OrbitControls(camera, renderer.domElement);
controls.target.set(0, 0.75, 0);
controls.enableDamping = true;
controls.maxPolarAngle = Math.PI * 0.55;
controls.minDistance = 0.8;
controls.maxDistance = 10;
controls.update();

// The figure (and its arc) live in `body`, placed at the origin on screen and
// VR_DISTANCE in front of the viewer in VR (local-floor: y = 0 is the floor there too).
const body = new THREE.Group();
scene.add(body);
body.visible = false;

const mats = {
  bone: new THREE.MeshLambertMaterial({ color: COLORS.bone }),
  joint: new THREE.MeshLambertMaterial({ color: COLORS.joint }),
  dim: new THREE.MeshLambertMaterial({ color: COLORS.dim, transparent: true, opacity: 0.5 }),
  segment: new THREE.MeshLambertMaterial({ color: COLORS.segment }),
  target: new THREE.MeshBasicMaterial({ color: COLORS.target, transparent: true, opacity: 0.5,
    side: THREE.DoubleSide, depthWrite: false }),
  rim: new THREE.MeshBasicMaterial({ color: COLORS.target, side: THREE.DoubleSide }),
  arc: new THREE.MeshBasicMaterial({ color: COLORS.arc, side: THREE.DoubleSide }),
  ray: new THREE.LineBasicMaterial({ color: 0xb0bec5, transparent: true, opacity: 0.8 }),
};
const sphereGeo = new THREE.SphereGeometry(1, 16, 12);
const boneGeo = new THREE.CylinderGeometry(1, 1, 1, 12, 1); // along y, centred
const UP = new THREE.Vector3(0, 1, 0);

// 33 points in three's frame, re-used every frame
const P = Array.from({ length: 33 }, () => new THREE.Vector3());
let visibility = null;

// Spheres at the body's landmarks 11..32 but the fingers (17..22): the face is one head,
// each hand one sphere at the mean of its pinky, index and thumb.
const joints = new Map(); // landmark index -> sphere
for (let i = 11; i < 33; i++) {
  if (i >= 17 && i <= 22) continue;
  const m = new THREE.Mesh(sphereGeo, mats.joint);
  m.scale.setScalar(0.034);
  body.add(m);
  joints.set(i, m);
}
const head = new THREE.Mesh(sphereGeo, mats.joint);
head.scale.setScalar(0.095);
body.add(head);
const HANDS = { lhand: [15, 17, 19, 21], rhand: [16, 18, 20, 22] }; // wrist, pinky, index, thumb
const hands = {};
for (const key of Object.keys(HANDS)) {
  hands[key] = new THREE.Mesh(sphereGeo, mats.joint);
  hands[key].scale.setScalar(0.028);
  body.add(hands[key]);
}
// points that are not landmarks, by name: the neck's base and the head, the hands
const extra = { neck: new THREE.Vector3(), head: head.position, lhand: hands.lhand.position,
  rhand: hands.rhand.position };

let bones = []; // {a, b, mesh}
function buildBones(edges) {
  for (const bone of bones) body.remove(bone.mesh);
  bones = [];
  const list = (Array.isArray(edges) ? edges : []).filter(
    (e) => Array.isArray(e) && e.length === 2 && e.every((i) => Number.isInteger(i) && i >= 0 && i < 33));
  // not MediaPipe edges: mid-shoulder to the head, each wrist to its hand
  list.push(['neck', 'head'], [15, 'lhand'], [16, 'rhand']);
  for (const [a, b] of list) {
    const mesh = new THREE.Mesh(boneGeo, mats.bone);
    body.add(mesh);
    bones.push({ a, b, mesh, radius: a === 'neck' ? 0.03 : 0.022 });
  }
}
buildBones([]);

const _mid = new THREE.Vector3();
const _dir = new THREE.Vector3();
function placeBone(mesh, p, q, radius) {
  _dir.subVectors(q, p);
  const len = _dir.length();
  if (len < 1e-6) { mesh.visible = false; return; }
  mesh.visible = true;
  mesh.position.copy(_mid.addVectors(p, q).multiplyScalar(0.5));
  mesh.quaternion.setFromUnitVectors(UP, _dir.divideScalar(len));
  mesh.scale.set(radius, len, radius);
}

// --- the angle: a ring sector in a plane ----------------------------------------------------
class Sector {
  constructor(material, inner, outer, maxSteps = 72) {
    this.inner = inner;
    this.outer = outer;
    this.maxSteps = maxSteps;
    const pos = new Float32Array((maxSteps + 1) * 2 * 3);
    const index = [];
    for (let k = 0; k < maxSteps; k++) {
      const i = 2 * k;
      index.push(i, i + 1, i + 2, i + 1, i + 3, i + 2);
    }
    this.geometry = new THREE.BufferGeometry();
    this.geometry.setAttribute('position', new THREE.BufferAttribute(pos, 3));
    this.geometry.setIndex(index);
    this.mesh = new THREE.Mesh(this.geometry, material);
    this.mesh.frustumCulled = false;
    this.mesh.visible = false;
  }

  // from `from` to `to` degrees about `vertex`, 0 along unit `zero`, turning toward unit `toward`
  update(vertex, zero, toward, from, to) {
    const span = to - from;
    if (!(Math.abs(span) > 0.05)) { this.mesh.visible = false; return; }
    const steps = Math.min(this.maxSteps, Math.max(2, Math.ceil(Math.abs(span) / 2.5)));
    const pos = this.geometry.attributes.position.array;
    for (let k = 0; k <= steps; k++) {
      const th = THREE.MathUtils.degToRad(from + (span * k) / steps);
      const c = Math.cos(th), s = Math.sin(th);
      for (let j = 0; j < 3; j++) {
        const d = c * zero.getComponent(j) + s * toward.getComponent(j);
        pos[6 * k + j] = vertex.getComponent(j) + this.inner * d;
        pos[6 * k + 3 + j] = vertex.getComponent(j) + this.outer * d;
      }
    }
    this.geometry.attributes.position.needsUpdate = true;
    this.geometry.setDrawRange(0, steps * 6);
    this.mesh.visible = true;
  }
}

const targetSector = new Sector(mats.target, 0.03, 0.3);
const targetRim = new Sector(mats.rim, 0.3, 0.316);
const arcSector = new Sector(mats.arc, 0.17, 0.2);
body.add(targetSector.mesh, targetRim.mesh, arcSector.mesh);
const rayGeo = new THREE.BufferGeometry().setFromPoints([new THREE.Vector3(), new THREE.Vector3()]);
const ray = new THREE.Line(rayGeo, mats.ray); // the angle's zero direction
ray.frustumCulled = false;
body.add(ray);

// a text label (canvas texture, system font) for the angle's value
function makeLabel(w, h, scale) {
  const canvas = document.createElement('canvas');
  canvas.width = w; canvas.height = h;
  const texture = new THREE.CanvasTexture(canvas);
  texture.colorSpace = THREE.SRGBColorSpace;
  const sprite = new THREE.Sprite(new THREE.SpriteMaterial({ map: texture, depthTest: false,
    transparent: true }));
  sprite.scale.set(scale * w / h, scale, 1);
  sprite.renderOrder = 10;
  return { canvas, ctx: canvas.getContext('2d'), texture, sprite, text: null };
}
const angleLabel = makeLabel(192, 80, 0.11);
body.add(angleLabel.sprite);

function drawLabel(label, text, color) {
  const key = text + color;
  if (label.text === key) return;
  label.text = key;
  const { ctx, canvas } = label;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = 'rgba(14, 21, 29, 0.78)';
  roundRect(ctx, 4, 4, canvas.width - 8, canvas.height - 8, 16);
  ctx.fill();
  ctx.fillStyle = color;
  ctx.font = 'bold 52px system-ui, sans-serif';
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  ctx.fillText(text, canvas.width / 2, canvas.height / 2 + 2);
  label.texture.needsUpdate = true;
}
function roundRect(ctx, x, y, w, h, r) {
  ctx.beginPath();
  ctx.moveTo(x + r, y);
  ctx.arcTo(x + w, y, x + w, y + h, r);
  ctx.arcTo(x + w, y + h, x, y + h, r);
  ctx.arcTo(x, y + h, x, y, r);
  ctx.arcTo(x, y, x + w, y, r);
  ctx.closePath();
}

// In VR the HTML overlay is not seen: the same lines on a panel above the figure.
const vrPanel = makeLabel(640, 200, 0.5);
vrPanel.sprite.position.set(0, 2.2, 0);
vrPanel.sprite.visible = false;
body.add(vrPanel.sprite);
function drawVrPanel() {
  if (!vrPanel.sprite.visible) return;
  const { ctx, canvas } = vrPanel;
  const cue = $('cue').classList.contains('hidden') ? '' : $('cue').textContent;
  const live = rehabStatus.status === 'live';
  const lines = [$('reps').textContent + ' reps   ' + $('set').textContent,
    $('angle-name').textContent + ' ' + $('angle').textContent, live ? cue : rehabStatus.status];
  const key = lines.join('|');
  if (vrPanel.text === key) return;
  vrPanel.text = key;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = 'rgba(14, 21, 29, 0.85)';
  roundRect(ctx, 4, 4, canvas.width - 8, canvas.height - 8, 24);
  ctx.fill();
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  ctx.fillStyle = '#ffffff';
  ctx.font = 'bold 46px system-ui, sans-serif';
  ctx.fillText(lines[0], canvas.width / 2, 45);
  ctx.font = '38px system-ui, sans-serif';
  ctx.fillText(lines[1], canvas.width / 2, 105);
  ctx.fillStyle = live ? getComputedStyle($('cue')).color || '#90caf9' : '#ffca28';
  ctx.fillText(lines[2], canvas.width / 2, 160);
  vrPanel.texture.needsUpdate = true;
}

// --- the figure from a frame ---------------------------------------------------------------
let lift = null;          // smoothed height that puts the feet on the floor
let lastToward = null;    // the arc's turning direction, kept while the limb is straight
const _a = new THREE.Vector3(), _b = new THREE.Vector3(), _v = new THREE.Vector3();
const _zero = new THREE.Vector3(), _toward = new THREE.Vector3(), _t = new THREE.Vector3();
const _midSh = new THREE.Vector3(), _midHip = new THREE.Vector3(), _lat = new THREE.Vector3();

function applyFrame(msg) {
  const world = msg.world;
  if (!Array.isArray(world) || world.length !== 33) { body.visible = false; return; }
  for (let i = 0; i < 33; i++) {
    const w = world[i];
    P[i].set(-w[0], -w[1], -w[2]); // the mirror view: see the comment at the top
  }
  let floor = Infinity;
  for (const i of FEET) floor = Math.min(floor, P[i].y);
  const want = -floor;
  lift = lift === null || Math.abs(want - lift) > 0.25 ? want : lift + 0.5 * (want - lift);
  for (const p of P) p.y += lift;
  visibility = Array.isArray(msg.visibility) ? msg.visibility : null;
  body.visible = true;

  for (const [i, m] of joints) {
    m.position.copy(P[i]);
    m.material = seen(i) ? mats.joint : mats.dim;
  }
  _midSh.addVectors(P[L_SH], P[R_SH]).multiplyScalar(0.5);
  _midHip.addVectors(P[L_HIP], P[R_HIP]).multiplyScalar(0.5);
  extra.neck.copy(_midSh);
  head.position.addVectors(P[L_EAR], P[R_EAR]).multiplyScalar(0.5).lerp(P[NOSE], 0.35);
  for (const [key, [wrist, ...fingers]] of Object.entries(HANDS)) {
    const hand = hands[key];
    hand.position.set(0, 0, 0);
    for (const f of fingers) hand.position.add(P[f]);
    hand.position.divideScalar(fingers.length);
    if (hand.position.distanceTo(P[wrist]) < 0.03) { // fingers on the wrist: a short stub
      hand.position.addScaledVector(_dir.subVectors(P[wrist], P[wrist - 2]).normalize(), 0.06);
    }
    hand.material = seen(wrist) ? mats.joint : mats.dim;
  }

  const joint = validJoint(msg.angle && msg.angle.joint);
  const point = (i) => (typeof i === 'number' ? P[i] : extra[i]);
  const vis = (i) => typeof i !== 'number' || seen(i);
  for (const bone of bones) {
    placeBone(bone.mesh, point(bone.a), point(bone.b), bone.radius);
    const measured = joint && isSegment(joint, bone.a, bone.b);
    bone.mesh.material = measured ? mats.segment
      : (vis(bone.a) && vis(bone.b)) ? mats.bone : mats.dim;
  }
  drawAngle(msg.angle, joint);
}

function seen(i) { return !visibility || !(visibility[i] < 0.5); }
function validJoint(j) {
  return Array.isArray(j) && j.length === 3 && j.every((i) => Number.isInteger(i) && i >= 0 && i < 33)
    ? j : null;
}
function isSegment(j, a, b) {
  const [p, v, q] = j;
  return (a === v && (b === p || b === q)) || (b === v && (a === p || a === q));
}

function drawAngle(angle, joint) {
  const hide = () => {
    targetSector.mesh.visible = targetRim.mesh.visible = arcSector.mesh.visible = false;
    ray.visible = false;
    angleLabel.sprite.visible = false;
  };
  if (!angle || !joint) { hide(); return; }
  const name = String(angle.name || '');
  _a.copy(P[joint[0]]); _v.copy(P[joint[1]]); _b.copy(P[joint[2]]);
  const second = _t.subVectors(_b, _v).normalize();
  _lat.subVectors(P[L_HIP], P[R_HIP]).normalize();

  let toward = null;
  if (name.startsWith('hip_') || name.startsWith('shoulder_')) {
    _zero.subVectors(_midHip, _midSh);       // trunk midline, downward
    if (_zero.lengthSq() < 1e-8) _zero.subVectors(_v, _a);
  } else if (name === 'ankle_plantarflexion') {
    const shank = new THREE.Vector3().subVectors(_v, _a).normalize(); // knee -> ankle, prolonged
    _zero.copy(second).addScaledVector(shank, -second.dot(shank));    // foot square to the shank
    if (_zero.lengthSq() < 1e-6) _zero.crossVectors(_lat, shank);
    toward = shank; // plantarflexion turns the foot down, toward the shank's line
  } else {
    _zero.subVectors(_v, _a);                // straight continuation of the first segment
  }
  _zero.normalize();
  if (!toward) {
    // the in-plane direction from the zero direction toward the second segment
    _toward.copy(second).addScaledVector(_zero, -second.dot(_zero));
    if (_toward.length() > 0.05) {
      _toward.normalize();
    } else if (lastToward) { // limb (nearly) straight: the plane is undefined, keep the last one
      _toward.copy(lastToward).addScaledVector(_zero, -lastToward.dot(_zero)).normalize();
    } else {
      _toward.crossVectors(_lat, _zero).normalize();
    }
    toward = _toward;
  } else {
    toward = _toward.copy(toward).addScaledVector(_zero, -toward.dot(_zero)).normalize();
  }
  if (!(toward.lengthSq() > 0.5)) { hide(); return; }
  lastToward = (lastToward || new THREE.Vector3()).copy(toward);

  const target = Array.isArray(angle.target) ? angle.target.map(Number) : null;
  if (target && target.every(Number.isFinite)) {
    targetSector.update(_v, _zero, toward, Math.min(...target), Math.max(...target));
    targetRim.update(_v, _zero, toward, Math.min(...target), Math.max(...target));
  } else {
    targetSector.mesh.visible = targetRim.mesh.visible = false;
  }
  ray.geometry.attributes.position.setXYZ(0, _v.x, _v.y, _v.z);
  ray.geometry.attributes.position.setXYZ(1, _v.x + 0.3 * _zero.x, _v.y + 0.3 * _zero.y,
    _v.z + 0.3 * _zero.z);
  ray.geometry.attributes.position.needsUpdate = true;
  ray.visible = true;

  const deg = angle.deg;
  if (typeof deg === 'number' && Number.isFinite(deg)) {
    const inside = target && deg >= Math.min(...target) && deg <= Math.max(...target);
    mats.arc.color.setHex(inside ? COLORS.arcIn : COLORS.arc);
    arcSector.update(_v, _zero, toward, 0, deg);
    // the label sits just outside the target's rim, a little past the band's end
    const at = THREE.MathUtils.degToRad(Math.max(deg, 0) + 28);
    angleLabel.sprite.position.copy(_v)
      .addScaledVector(_zero, 0.42 * Math.cos(at)).addScaledVector(toward, 0.42 * Math.sin(at));
    drawLabel(angleLabel, `${Math.round(deg)}°`, inside ? '#69f0ae' : '#ffffff');
    angleLabel.sprite.visible = true;
  } else {
    arcSector.mesh.visible = false;
    angleLabel.sprite.visible = false;
  }
}

// --- the HUD -------------------------------------------------------------------------------
const STATUS_CLASS = { 'connecting': 'connecting', 'live': 'live', 'no person in view': 'noperson',
  'session ended': 'ended' };
function setStatus(text) {
  rehabStatus.status = text;
  const el = $('status');
  el.textContent = text;
  el.className = 'status ' + (text.startsWith('refused') ? 'refused' : STATUS_CLASS[text] || 'connecting');
  drawVrPanel();
}

const SIDES = { left: 'left', right: 'right' };
function angleTitle(angle) {
  const name = String(angle.name || '').replace(/_/g, ' ');
  const title = name.charAt(0).toUpperCase() + name.slice(1);
  return SIDES[angle.side] ? `${title} (${angle.side})` : title;
}

function showFrame(msg) {
  const reps = msg.reps || {};
  const done = Number.isFinite(reps.done) ? reps.done : 0;
  $('reps').textContent = `${done} / ${Number.isFinite(reps.goal) ? reps.goal : '–'}`;
  rehabStatus.reps = done;
  const set = msg.set || {};
  $('set').textContent = Number.isFinite(set.no) ? `set ${set.no} of ${set.of}` : '';
  const rest = [];
  if (Number.isFinite(set.rest_left_s)) rest.push(`rest ${Math.ceil(set.rest_left_s)} s`);
  if (msg.paused) rest.push('paused');
  if (msg.finished) rest.push('finished');
  $('rest').textContent = rest.join(' · ');

  const angle = msg.angle || {};
  $('angle-name').textContent = angleTitle(angle);
  const deg = angle.deg;
  const target = Array.isArray(angle.target) ? angle.target : null;
  const el = $('angle');
  el.textContent = Number.isFinite(deg) ? `${Math.round(deg)}°` : '–';
  el.classList.toggle('in', !!(target && Number.isFinite(deg) && deg >= target[0] && deg <= target[1]));
  $('target').textContent = target ? `target ${target[0]}–${target[1]}°` : '';

  const cue = $('cue');
  if (msg.cue && msg.cue.text) {
    cue.textContent = msg.cue.text;
    cue.className = 'cue ' + (TONES.has(msg.cue.tone) ? msg.cue.tone : 'info');
  } else {
    cue.className = 'cue hidden';
  }
}

function showRep(msg) {
  const el = $('lastrep');
  el.innerHTML = '';
  const b = document.createElement('b');
  b.textContent = `rep ${msg.index}`;
  el.append(b, ` · score ${msg.score}`);
  if (Number.isFinite(msg.rom_deg)) el.append(` · ROM ${Math.round(msg.rom_deg)}°`);
  el.append(msg.target_met ? ' · target met' : ' · target missed');
  el.className = 'panel';
}

// --- the stream ----------------------------------------------------------------------------
const token = new URLSearchParams(location.search).get('token');
const query = token !== null ? '?token=' + encodeURIComponent(token) : '';
const streamUrl = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/stream' + query;

let socket = null;
let ended = false;
let refused = false;
let delay = 500;
let pending = null; // the newest frame not yet drawn

function connect() {
  if (ended || refused) return;
  let opened = false;
  const ws = new WebSocket(streamUrl);
  socket = ws;
  ws.onopen = () => {
    opened = true;
    delay = 500;
    rehabStatus.connected = true;
    setStatus('live');
  };
  ws.onmessage = (event) => {
    let msg;
    try { msg = JSON.parse(event.data); } catch { return; }
    handle(msg);
  };
  ws.onclose = () => {
    if (socket === ws) socket = null;
    rehabStatus.connected = false;
    if (ended) return;
    if (opened) { retry(); return; }
    // A refused handshake looks like any failure to a WebSocket: ask the same URL over
    // plain HTTP, which answers a refusal with its status and reason.
    whyRefused().then((reason) => {
      if (reason) { refused = true; setStatus('refused: ' + reason); } else retry();
    });
  };
}

async function whyRefused() {
  try {
    const r = await fetch('/stream' + query, { cache: 'no-store' });
    if (r.status === 401) return 'token required';
    if (r.status === 403) {
      const text = (await r.text()).trim();
      return text === 'wrong token' ? 'wrong token' : text || 'forbidden';
    }
  } catch { /* the server is not there: try again later */ }
  return null;
}

function retry() {
  setStatus('connecting');
  const wait = delay * (0.8 + 0.4 * Math.random());
  delay = Math.min(delay * 2, 10000);
  setTimeout(connect, wait);
}

function handle(msg) {
  switch (msg && msg.type) {
    case 'hello':
      buildBones(msg.edges);
      if (msg.exercise) $('exercise').textContent = msg.exercise.name || msg.exercise.id || '';
      break;
    case 'frame':
      rehabStatus.frames += 1;
      rehabStatus.lastSeq = msg.seq;
      showFrame(msg);
      if (!ended) setStatus(Array.isArray(msg.world) ? 'live' : 'no person in view');
      pending = msg;
      break;
    case 'rep':
      showRep(msg);
      break;
    case 'end':
      ended = true;
      if (Number.isFinite(msg.reps)) rehabStatus.reps = msg.reps;
      setStatus('session ended');
      $('rest').textContent = `session ended (${String(msg.reason || '').replace(/_/g, ' ')}), ` +
        `${msg.reps} reps`;
      break;
    default:
      break;
  }
}

// --- VR or orbit ---------------------------------------------------------------------------
// "Enter VR" only where a headset can be used (no "VR not supported" button on a desktop)
if (navigator.xr && navigator.xr.isSessionSupported) {
  navigator.xr.isSessionSupported('immersive-vr').then((ok) => {
    if (ok) document.body.appendChild(VRButton.createButton(renderer));
  }).catch(() => {});
  renderer.xr.addEventListener('sessionstart', () => {
    body.position.set(0, 0, -VR_DISTANCE); // facing the viewer, feet on the floor
    vrPanel.sprite.visible = true;
    vrPanel.text = null;
  });
  renderer.xr.addEventListener('sessionend', () => {
    body.position.set(0, 0, 0);
    vrPanel.sprite.visible = false;
  });
}

window.addEventListener('resize', () => {
  camera.aspect = window.innerWidth / window.innerHeight;
  camera.updateProjectionMatrix();
  renderer.setSize(window.innerWidth, window.innerHeight);
});

renderer.setAnimationLoop(() => {
  if (pending) {
    applyFrame(pending);
    pending = null;
    drawVrPanel();
  }
  if (!renderer.xr.isPresenting) controls.update();
  renderer.render(scene, camera);
});

connect();
