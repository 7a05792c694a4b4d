// Where the app's server and token come from: the page's query string, so one build serves
// any server (a real app would get its token from its own sign-in).
const params = new URLSearchParams(location.search);

export const config = {
  api: params.get("api") ?? location.origin,
  token: params.get("token") ?? "",
  ticketId: params.get("ticket") ?? "",
};
