// tailor demo shop: recommendation slots fed by the API (docs/dashboard.md, "Demo shop").
// Each slot (an element with data-placement) shows one list, sends one exposure event per shown
// item (value = rank) and a click event when an item is clicked, each naming its placement.
"use strict";

const $ = (id) => document.getElementById(id);

function uid() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID().replaceAll("-", "");
  return (Math.random().toString(16).slice(2) + Date.now().toString(16)).padEnd(32, "0");
}

function stored(name, fallback) {
  return JSON.parse(localStorage.getItem(name) || JSON.stringify(fallback));
}

function store(name, value) {
  localStorage.setItem(name, JSON.stringify(value));
}

// the visitor: an anonymous session id kept in localStorage
function visitor() {
  let id = localStorage.getItem("tailor-visitor");
  if (!id) {
    id = "s-" + uid().slice(0, 16);
    localStorage.setItem("tailor-visitor", id);
  }
  return id;
}

function headers() {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("key");
  if (fromHash) sessionStorage.setItem("tailor-key", fromHash);
  const key = sessionStorage.getItem("tailor-key");
  const out = { "Content-Type": "application/json" };
  if (key) out["X-API-Key"] = key;
  return out;
}

async function api(path, body) {
  const init = body === undefined ? { headers: headers() }
    : { method: "POST", headers: headers(), body: JSON.stringify(body) };
  const response = await fetch(path, init);
  if (!response.ok) throw new Error(path + " answered " + response.status);
  return response.json();
}

async function catalog(ids) {
  if (!ids.length) return new Map();
  const query = ids.map((id) => "item_id=" + encodeURIComponent(id)).join("&");
  const doc = await api("/v1/catalog/items?" + query);
  return new Map(doc.items.map((item) => [item.item_id, item]));
}

function event(type, placement, itemId, recommendationId, value) {
  const e = {
    event_id: uid(),
    placement: placement,
    session_id: visitor(),
    item_id: itemId,
    type,
    timestamp: new Date().toISOString(),
  };
  if (recommendationId) e.recommendation_id = recommendationId;
  if (value !== undefined && value !== null) e.value = value;
  return e;
}

async function send(events) {
  if (!events.length) return;
  try {
    await api("/v1/events", { events });
  } catch (err) {
    console.warn("events not sent: " + err.message); // the shop works without an event log
  }
}

function card(item, info) {
  const a = document.createElement("a");
  a.className = "item";
  a.href = "product.html?item=" + encodeURIComponent(item.item_id);
  a.dataset.item = item.item_id;
  const title = document.createElement("div");
  title.className = "title";
  title.textContent = (info && info.title) || item.item_id;
  a.appendChild(title);
  if (info && info.price !== null) {
    const price = document.createElement("div");
    price.className = "price";
    price.textContent = info.price.toFixed(2);
    a.appendChild(price);
  }
  return a;
}

// show one list in a slot, log its exposures, log a click before following a link
async function fill(slot, items, recommendationId) {
  const placement = slot.dataset.placement;
  const info = await catalog(items.map((i) => i.item_id));
  slot.dataset.recommendationId = recommendationId;
  slot.replaceChildren(...items.map((item) => card(item, info.get(item.item_id))));
  if (!items.length) slot.appendChild(Object.assign(document.createElement("p"),
    { className: "empty", textContent: "nothing to show" }));
  for (const link of slot.querySelectorAll("a.item")) {
    link.addEventListener("click", async (ev) => {
      ev.preventDefault();
      const attribution = stored("tailor-attribution", {});
      attribution[link.dataset.item] = recommendationId; // later add-to-cart and purchase
      store("tailor-attribution", attribution);
      await send([event("click", placement, link.dataset.item, recommendationId)]);
      location.href = link.href;
    });
  }
  await send(items.map((item, rank) =>
    event("exposure", placement, item.item_id, recommendationId, rank + 1)));
  slot.dataset.ready = "true";
}

const me = () => encodeURIComponent(visitor());

async function home() {
  const banner = await api("/v1/recommendations/" + me() + "?n=1");
  await fill($("home-banner"), banner.items, banner.recommendation_id);
  const skip = banner.items.map((i) => "&exclude=" + encodeURIComponent(i.item_id)).join("");
  const list = await api("/v1/recommendations/" + me() + "?n=8" + skip);
  await fill($("home-carousel"), list.items, list.recommendation_id);
}

async function product() {
  const itemId = new URLSearchParams(location.search).get("item") || "";
  $("product-id").textContent = itemId;
  const info = (await catalog([itemId])).get(itemId);
  $("product-title").textContent = (info && info.title) || itemId;
  $("product-price").textContent = info && info.price !== null ? info.price.toFixed(2) : "";
  $("add-to-cart").addEventListener("click", async () => {
    const cart = stored("tailor-cart", []);
    if (!cart.includes(itemId)) store("tailor-cart", [...cart, itemId]);
    const from = stored("tailor-attribution", {})[itemId];
    await send([event("add_to_cart", "product-page", itemId, from)]);
    showCount();
  });
  // the similar-items route gives no recommendation_id: the page names the list itself
  const similar = await api("/v1/items/" + encodeURIComponent(itemId) + "/similar?n=6");
  await fill($("product-similar"), similar.items, uid());
}

async function cartPage() {
  const cart = stored("tailor-cart", []);
  const info = await catalog(cart);
  $("cart-items").replaceChildren(...cart.map((id) => Object.assign(
    document.createElement("li"), { textContent: (info.get(id) || {}).title || id })));
  $("buy").addEventListener("click", async () => {
    const from = stored("tailor-attribution", {});
    await send(cart.map((id) => event("purchase", "cart-page", id, from[id],
      (info.get(id) || {}).price)));
    store("tailor-cart", []);
    location.reload();
  });
  $("empty").addEventListener("click", () => { store("tailor-cart", []); location.reload(); });
  // "complete your basket": the visitor's list scored with the cart as context
  const answer = await api("/v1/recommendations", {
    user_ids: [visitor()], n: 6, context: { cart_items: cart },
  });
  const list = answer.results ? answer.results[0] : answer;
  await fill($("cart-complete"), list.items, list.recommendation_id);
}

function showCount() {
  $("cart-count").textContent = String(stored("tailor-cart", []).length);
}

const PAGES = { home, product, cart: cartPage };
$("visitor").textContent = visitor();
showCount();
PAGES[document.body.dataset.page]().catch((err) => {
  document.body.dataset.error = err.message;
  console.warn(err.message);
});
