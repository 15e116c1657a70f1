#include "landing.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "compat.h"

namespace tk {

namespace {

// What a frame's script is. The table the rule looks at:
//   no script (V8's builtins: Array.prototype.forEach, …)  → transparent:
//       they stand for their caller, as they do for an exception;
//   a script named or sourceURL'd `node:…` (Node's own JavaScript, from its
//       snapshot too)                                       → Node's;
//   any other script, whatever its name or lack of one (files, `new
//       Function`, `eval`, `vm`, `data:` URLs, wasm)       → the user's.
enum class Kind : uint8_t { kTransparent, kUser, kNode };

// Per position in a Node script, found once.
constexpr uint8_t kProtected = 1;  // inside a try block (or a catch with a finally)
constexpr uint8_t kImplicit = 2;   // inside an async function, generator or Promise executor
constexpr uint8_t kEntry = 4;      // at a function's entry: it has run nothing yet
constexpr uint8_t kTail = 8;       // at a call whose value is all it has left to return (see AtTailCall)
constexpr uint8_t kWritesState = 16;  // at entry, and its code may change state (WritesState)

struct FuncRange {
  uint32_t start;  // its body's "{" (or an arrow's "=>" for an expression body)
  uint32_t end;    // its body's "}" (or the end of the expression)
  bool implicit;   // async, generator, or a Promise executor
};

// A stretch of a function where an exception would be handled by the
// function itself: a try block, and a catch block that has a finally.
// (In a finally block, or a catch with none, an exception leaves the
// statement just as a termination does.)
struct TryRange {
  uint32_t start;
  uint32_t end;
  int32_t owner;  // index of the innermost function containing it; -1 = the script's top level
};

struct SourceInfo {
  std::u16string text;
  std::vector<uint32_t> line_starts;
  std::vector<FuncRange> funcs;
  std::vector<TryRange> tries;
  // Every token's start and end, in order (a template literal with `${…}`
  // has only its inner tokens), and where each "(" closes: enough to tell
  // what comes right before and after a call (AtTailCall).
  std::vector<uint32_t> tok_s, tok_e;
  std::unordered_map<uint32_t, uint32_t> paren_close;
  // Each function's body end by its start, and where each `function NAME(`
  // declared in the script has its "(" (WritesState follows calls to them).
  std::unordered_map<uint32_t, uint32_t> func_end;
  std::unordered_map<std::u16string, uint32_t> declared;
};

bool IsIdentStart(char16_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$' || c == '#' || c == '\\' || c > 0x7f;
}
bool IsIdentChar(char16_t c) { return IsIdentStart(c) || (c >= '0' && c <= '9'); }
bool IsSpace(char16_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0xa0 || c == 0xfeff || c == 0x2028 || c == 0x2029 || c == '\v' || c == '\f'; }

bool WordIs(const std::u16string& t, size_t s, size_t e, const char* w) {
  const size_t len = strlen(w);
  if (e - s != len) return false;
  for (size_t i = 0; i < len; i++)
    if (t[s + i] != static_cast<char16_t>(w[i])) return false;
  return true;
}

// A tokenizer good enough to find functions and try statements in Node's own
// sources (well-formed, linted JavaScript): strings, templates, comments and
// regular expressions are skipped; brackets are matched.
class Reader {
 public:
  Reader(const std::u16string& t, SourceInfo& out) : t_(t), n_(t.size()), out_(out) {}

  void Run() {
    size_t i = 0;
    while (i < n_) i = Step(i);
    while (!stack_.empty()) Close(static_cast<uint32_t>(n_ ? n_ - 1 : 0));
    CloseArrows(0, static_cast<uint32_t>(n_));
    for (const TryRec& r : recs_) {
      if (r.try_e > r.try_s) out_.tries.push_back({r.try_s, r.try_e, r.owner});
      if (r.has_finally && r.catch_e > r.catch_s) out_.tries.push_back({r.catch_s, r.catch_e, r.owner});
    }
  }

 private:
  enum Role : int8_t { kPlain, kFunction, kTry, kCatch, kFinally, kTemplateExpr, kClassBody };
  enum TokKind : int8_t { kNone, kIdent, kPunct, kValue };
  struct Open {
    Role role;
    uint32_t pos;
    int32_t func;  // kFunction: its index in out_.funcs
    int32_t rec;   // kTry / kCatch: its try record
    char16_t ch;
    size_t tstart = 0;  // kTemplateExpr: where its template literal starts
  };
  struct TryRec {
    uint32_t try_s = 0, try_e = 0, catch_s = 0, catch_e = 0;
    bool has_finally = false;
    int32_t owner = -1;
  };

  size_t Step(size_t i) {
    const char16_t c = t_[i];
    if (IsSpace(c)) return i + 1;
    if (c == '/' && i + 1 < n_ && t_[i + 1] == '/') {
      while (i < n_ && t_[i] != '\n') i++;
      return i;
    }
    if (c == '/' && i + 1 < n_ && t_[i + 1] == '*') {
      for (i += 2; i + 1 < n_ && !(t_[i] == '*' && t_[i + 1] == '/'); i++) {
      }
      return std::min(n_, i + 2);
    }
    if (c == '/' && RegexAllowed()) {
      const size_t j = ScanRegex(i);
      if (j != 0) return Value(i, j);
    }
    if (c == '\'' || c == '"') {
      size_t j = i + 1;
      while (j < n_ && t_[j] != c && t_[j] != '\n') j += t_[j] == '\\' ? 2 : 1;
      return Value(i, std::min(n_, j + 1));
    }
    if (c == '`') return TemplateBody(i, i + 1, i);
    if (c >= '0' && c <= '9') {
      size_t j = i + 1;
      while (j < n_ && (IsIdentChar(t_[j]) || t_[j] == '.' ||
                        ((t_[j] == '+' || t_[j] == '-') && (t_[j - 1] == 'e' || t_[j - 1] == 'E'))))
        j++;
      return Value(i, j);
    }
    if (IsIdentStart(c)) return Ident(i);
    switch (c) {
      case '{': return OpenBrace(i);
      case '(':
      case '[':
        Push({kPlain, static_cast<uint32_t>(i), -1, -1, c});
        return Punct(i, 1);
      case ')':
      case ']':
        if (!stack_.empty()) {
          const Open o = stack_.back();
          Close(static_cast<uint32_t>(i));
          if (c == ')') last_paren_open_ = o.pos;
          if (c == ')' && o.ch == '(') out_.paren_close.emplace(o.pos, static_cast<uint32_t>(i));
        }
        return Punct(i, 1);
      case '}': {
        if (!stack_.empty() && stack_.back().role == kTemplateExpr) {
          const size_t start = stack_.back().tstart;
          NoteToken(kPunct, i, i + 1);  // (its "${" is one too: brackets stay balanced)
          Close(static_cast<uint32_t>(i));
          return TemplateBody(start, i + 1, i + 1);
        }
        NoteToken(kPunct, i, i + 1);  // (before Close: it notes what follows a try's block)
        if (!stack_.empty()) Close(static_cast<uint32_t>(i));
        return i + 1;
      }
      case ',':
      case ';':
        CloseArrows(stack_.size(), static_cast<uint32_t>(i));
        return Punct(i, 1);
      case '=':
        if (i + 1 < n_ && t_[i + 1] == '>') return Arrow(i);
        return Punct(i, 1);
      default:
        return Punct(i, 1);
    }
  }

  size_t Punct(size_t i, size_t len) {
    NoteToken(kPunct, i, i + len);
    return i + len;
  }
  size_t Value(size_t i, size_t j) {
    NoteToken(kValue, i, j);
    return j;
  }
  void NoteToken(TokKind kind, size_t s, size_t e) {
    // Only the token right after a try's (or catch's) block can be its
    // catch or finally.
    after_try_ = -1;
    if (out_.tok_s.empty() || s > out_.tok_s.back()) {  // (a template's own token spans its inner ones)
      out_.tok_s.push_back(static_cast<uint32_t>(s));
      out_.tok_e.push_back(static_cast<uint32_t>(e));
    }
    last_kind_ = kind;
    last_s_ = s;
    last_e_ = e;
  }

  size_t Ident(size_t i) {
    size_t j = i;
    while (j < n_ && IsIdentChar(t_[j])) j += t_[j] == '\\' ? 2 : 1;
    j = std::min(j, n_);
    const int32_t rec = after_try_;
    if (WordIs(t_, i, j, "try")) {
      recs_.push_back(TryRec{});
      recs_.back().owner = CurrentFunc();
      Pend(kTry, static_cast<int32_t>(recs_.size() - 1));
    } else if (WordIs(t_, i, j, "catch") && rec >= 0) {
      Pend(kCatch, rec);
    } else if (WordIs(t_, i, j, "finally") && rec >= 0) {
      recs_[static_cast<size_t>(rec)].has_finally = true;
      Pend(kFinally, rec);
    } else if (WordIs(t_, i, j, "class")) {
      class_depth_ = static_cast<int64_t>(stack_.size());
    }
    NoteToken(kIdent, i, j);
    return j;
  }

  void Pend(Role role, int32_t rec) {
    pending_role_ = role;
    pending_rec_ = rec;
    pending_depth_ = stack_.size();
  }

  bool RegexAllowed() const {
    if (last_kind_ == kNone) return true;
    if (last_kind_ == kValue) return false;
    if (last_kind_ == kPunct) {
      const char16_t p = t_[last_s_];
      return p != ')' && p != ']';
    }
    for (const char* w : {"return", "typeof", "instanceof", "in", "of", "new", "delete", "void", "throw",
                          "case", "do", "else", "yield", "await"})
      if (WordIs(t_, last_s_, last_e_, w)) return true;
    return false;
  }

  // A regular expression literal from `i`, or 0 if there is none (a line
  // ends first: then it was a division).
  size_t ScanRegex(size_t i) const {
    bool in_class = false;
    for (size_t j = i + 1; j < n_; j++) {
      const char16_t ch = t_[j];
      if (ch == '\n' || ch == '\r') return 0;
      if (ch == '\\') {
        j++;
      } else if (in_class) {
        if (ch == ']') in_class = false;
      } else if (ch == '[') {
        in_class = true;
      } else if (ch == '/') {
        j++;
        while (j < n_ && IsIdentChar(t_[j])) j++;
        return j;
      }
    }
    return 0;
  }

  // A template literal's text from `j` (its start at `start`; this stretch
  // of text, after the last `${…}`, at `seg`): up to its closing backquote,
  // or into a `${` expression. The stretch is a token of its own: what follows
  // a call inside `${…}` is never taken for the end of a statement.
  size_t TemplateBody(size_t start, size_t j, size_t seg) {
    while (j < n_) {
      const char16_t ch = t_[j];
      if (ch == '\\') {
        j += 2;
      } else if (ch == '`') {
        NoteToken(kValue, seg, j + 1);
        last_s_ = start;
        return j + 1;
      } else if (ch == '$' && j + 1 < n_ && t_[j + 1] == '{') {
        Push({kTemplateExpr, static_cast<uint32_t>(j + 1), -1, -1, '{', start});
        NoteToken(kPunct, j + 1, j + 2);  // an expression starts
        return j + 2;
      } else {
        j++;
      }
    }
    return n_;
  }

  size_t OpenBrace(size_t i) {
    Role role = kPlain;
    int32_t rec = -1;
    bool function = false;
    bool implicit = false;
    if (pending_role_ != kPlain && stack_.size() == pending_depth_) {
      role = pending_role_;
      rec = pending_rec_;
      pending_role_ = kPlain;
    } else if (class_depth_ == static_cast<int64_t>(stack_.size())) {
      role = kClassBody;
      class_depth_ = -1;
    } else if (last_kind_ == kPunct && last_e_ - last_s_ == 2 && t_[last_s_] == '=' && t_[last_s_ + 1] == '>') {
      function = true;
      implicit = arrow_implicit_;
    } else if (last_kind_ == kPunct && t_[last_s_] == ')') {
      function = FunctionHead(last_paren_open_, &implicit);
    }
    int32_t func = -1;
    if (function) {
      role = kFunction;
      func = static_cast<int32_t>(out_.funcs.size());
      out_.funcs.push_back({static_cast<uint32_t>(i), static_cast<uint32_t>(n_), implicit});
    }
    if (role == kTry) recs_[static_cast<size_t>(rec)].try_s = static_cast<uint32_t>(i);
    if (role == kCatch) recs_[static_cast<size_t>(rec)].catch_s = static_cast<uint32_t>(i);
    Push({role, static_cast<uint32_t>(i), func, rec, '{'});
    return Punct(i, 1);
  }

  size_t Arrow(size_t i) {
    // Its parameters: "(…)" just closed, or one name.
    size_t params = last_kind_ == kPunct && t_[last_s_] == ')' ? last_paren_open_ : last_s_;
    size_t head = params;
    const size_t before = PrevIdentStart(params);
    arrow_implicit_ = false;
    if (before != kNpos && WordIs(t_, before, WordEnd(before), "async")) {
      arrow_implicit_ = true;
      head = before;
    }
    arrow_implicit_ = arrow_implicit_ || IsPromiseExecutor(head);
    Punct(i, 2);
    size_t j = i + 2;
    while (j < n_ && IsSpace(t_[j])) j++;
    if (j < n_ && t_[j] != '{') {
      // An expression body: a function until the expression ends.
      arrows_.push_back({static_cast<int32_t>(out_.funcs.size()), stack_.size()});
      out_.funcs.push_back({static_cast<uint32_t>(i), static_cast<uint32_t>(n_), arrow_implicit_});
    }
    return i + 2;
  }

  static constexpr size_t kNpos = static_cast<size_t>(-1);

  size_t SkipSpaceBack(size_t k) const {  // index of the last non-space before k, or kNpos
    while (k > 0 && IsSpace(t_[k - 1])) k--;
    return k == 0 ? kNpos : k - 1;
  }
  // Start of the identifier that ends just before `k` (spaces skipped), or kNpos.
  size_t PrevIdentStart(size_t k) const {
    const size_t e = SkipSpaceBack(k);
    if (e == kNpos || !IsIdentChar(t_[e])) return kNpos;
    size_t s = e;
    while (s > 0 && IsIdentChar(t_[s - 1])) s--;
    return s;
  }
  size_t WordEnd(size_t s) const {
    while (s < n_ && IsIdentChar(t_[s])) s++;
    return s;
  }

  // Whether "(…) {" whose "(" is at `paren` heads a function (a declaration,
  // expression or method) rather than a statement's block; sets *implicit
  // for async functions, generators and Promise executors.
  bool FunctionHead(size_t paren, bool* implicit) const {
    size_t s = PrevIdentStart(paren);
    if (s != kNpos) {
      const size_t e = WordEnd(s);
      for (const char* kw : {"if", "for", "while", "switch", "catch", "with"})
        if (WordIs(t_, s, e, kw)) return false;
      if (WordIs(t_, s, e, "await")) {
        const size_t f = PrevIdentStart(s);
        if (f != kNpos && WordIs(t_, f, WordEnd(f), "for")) return false;
      }
    }
    // Walk back over the head: [async] [function] [*] [name] (.
    bool generator = false;
    bool async = false;
    size_t head = paren;
    size_t k = paren;
    if (s != kNpos && !WordIs(t_, s, WordEnd(s), "function") && !WordIs(t_, s, WordEnd(s), "async")) {
      head = s;
      k = s;
    } else if (s == kNpos) {
      // A method with a computed key: `async [Symbol.asyncDispose]() {`,
      // `*[Symbol.iterator]() {` — its head starts at the "[".
      const size_t open = ComputedKeyOpen(paren);
      if (open != kNpos) {
        head = open;
        k = open;
      }
    }
    size_t p = SkipSpaceBack(k);
    if (p != kNpos && t_[p] == '*') {
      generator = true;
      head = p;
      k = p;
    }
    size_t w = PrevIdentStart(k);
    if (w != kNpos && WordIs(t_, w, WordEnd(w), "function")) {
      head = w;
      k = w;
      p = SkipSpaceBack(k);
      if (!generator && p != kNpos && t_[p] == '*') generator = true;  // (function * name: rare)
      w = PrevIdentStart(k);
    }
    if (w != kNpos && WordIs(t_, w, WordEnd(w), "async")) {
      async = true;
      head = w;
    }
    *implicit = generator || async || IsPromiseExecutor(head);
    return true;
  }

  // The "[" of a computed key "[…]" that ends just before `k` (spaces
  // skipped), or kNpos. Brackets nest; strings in a key are rare enough in
  // Node's sources to be taken as they come.
  size_t ComputedKeyOpen(size_t k) const {
    size_t c = SkipSpaceBack(k);
    if (c == kNpos || t_[c] != ']') return kNpos;
    int depth = 0;
    for (size_t i = c + 1; i-- > 0;) {
      if (t_[i] == ']') depth++;
      if (t_[i] == '[' && --depth == 0) return i;
    }
    return kNpos;
  }

  // Whether a function whose head starts at `head` is the first argument of
  // `new …Promise(` (its exceptions become the promise's rejection).
  bool IsPromiseExecutor(size_t head) const {
    const size_t p = SkipSpaceBack(head);
    if (p == kNpos || t_[p] != '(') return false;
    const size_t s = PrevIdentStart(p);
    if (s == kNpos) return false;
    const size_t e = WordEnd(s);
    if (e - s < 7 || !WordIs(t_, e - 7, e, "Promise")) return false;
    const size_t n = PrevIdentStart(s);
    return n != kNpos && WordIs(t_, n, WordEnd(n), "new");
  }

  void Push(const Open& o) { stack_.push_back(o); }

  // Closes the innermost bracket at `at`, and the expression arrows inside it.
  void Close(uint32_t at) {
    CloseArrows(stack_.size(), at);
    const Open o = stack_.back();
    stack_.pop_back();
    if (o.role == kFunction) out_.funcs[static_cast<size_t>(o.func)].end = at;
    if (o.role == kTry) {
      recs_[static_cast<size_t>(o.rec)].try_e = at;
      after_try_ = o.rec;
    } else if (o.role == kCatch) {
      recs_[static_cast<size_t>(o.rec)].catch_e = at;
      after_try_ = o.rec;
    }
  }

  // Ends the expression-bodied arrows opened at bracket depth >= `depth`.
  void CloseArrows(size_t depth, uint32_t at) {
    while (!arrows_.empty() && arrows_.back().second >= depth) {
      out_.funcs[static_cast<size_t>(arrows_.back().first)].end = at;
      arrows_.pop_back();
    }
  }

  // The innermost function being read (-1: the script's top level).
  int32_t CurrentFunc() const {
    int32_t func = -1;
    size_t depth = 0;
    for (size_t k = stack_.size(); k > 0; k--) {
      if (stack_[k - 1].role == kFunction) {
        func = stack_[k - 1].func;
        depth = k;
        break;
      }
    }
    if (!arrows_.empty() && arrows_.back().second >= depth) return arrows_.back().first;
    return func;
  }

  const std::u16string& t_;
  const size_t n_;
  SourceInfo& out_;
  std::vector<Open> stack_;
  std::vector<std::pair<int32_t, size_t>> arrows_;  // (function, bracket depth)
  std::vector<TryRec> recs_;
  TokKind last_kind_ = kNone;
  size_t last_s_ = 0;
  size_t last_e_ = 0;
  size_t last_paren_open_ = 0;
  bool arrow_implicit_ = false;
  Role pending_role_ = kPlain;
  int32_t pending_rec_ = -1;
  size_t pending_depth_ = 0;
  int32_t after_try_ = -1;
  int64_t class_depth_ = -1;
};

bool IsWordChar(char16_t c) { return IsIdentChar(c) && c != '#' && c != '\\'; }

// Whether `t[p]` starts a function's parameters, as V8 reports the position
// of a frame stopped at the function's entry (its source position is the
// function's start: the "(" of its parameters, or an arrow function's one
// parameter): "(...)" followed by "{" or "=>", or "name =>". A loop's
// back-edge reports its statement (for, while, …), a call site its call:
// neither has that shape.
bool StartsFunction(const std::u16string& t, size_t p) {
  const size_t n = t.size();
  if (p >= n) return false;
  auto skip_ws = [&](size_t i) {
    while (i < n && IsSpace(t[i])) i++;
    return i;
  };
  size_t i = p;
  if (t[p] == '(') {
    // Not a statement's parenthesis ("while (", "if (", …).
    size_t j = p;
    while (j > 0 && (t[j - 1] == ' ' || t[j - 1] == '\t')) j--;
    size_t k = j;
    while (k > 0 && IsWordChar(t[k - 1])) k--;
    for (const char* kw : {"if", "for", "while", "switch", "catch", "with"})
      if (WordIs(t, k, j, kw)) return false;
    int depth = 0;
    const size_t end = std::min(n, p + 4096);
    for (; i < end; i++) {
      const char16_t c = t[i];
      if (c == '"' || c == '\'' || c == '`') {
        for (i++; i < end && t[i] != c; i++)
          if (t[i] == '\\') i++;
      } else if (c == '(') {
        depth++;
      } else if (c == ')' && --depth == 0) {
        i++;
        break;
      }
    }
    if (depth != 0) return false;
  } else if (IsWordChar(t[p])) {
    while (i < n && IsWordChar(t[i])) i++;
  } else {
    return false;
  }
  i = skip_ws(i);
  return i < n && (t[i] == '{' || (t[i] == '=' && i + 1 < n && t[i + 1] == '>'));
}

// Whether the call at `offset` (where V8 puts a frame that is calling: the
// called name — `f` of `a.b.f(…)` — or `new`) is all the function `func` has
// left to do before it returns that call's value: `return f(…);`, an arrow's
// expression body `=> f(…)`, or `f(…);` as the last statement of the
// function's body. Such a frame runs none of its own code after the call:
// an exception thrown by the call passes through it untouched, as a
// termination does. Anything else (`return f(…) + 1`, `a[i].f()`, a call in
// a nested block or after `if (…)`) is not a tail here: the safe side.
bool AtTailCall(const SourceInfo& s, int32_t func, size_t offset) {
  if (func < 0) return false;
  const FuncRange& fr = s.funcs[static_cast<size_t>(func)];
  const std::u16string& t = s.text;
  const size_t n = s.tok_s.size();
  const auto at = std::lower_bound(s.tok_s.begin(), s.tok_s.end(), static_cast<uint32_t>(offset));
  if (at == s.tok_s.end() || *at != offset) return false;
  const size_t idx = static_cast<size_t>(at - s.tok_s.begin());
  auto is = [&](size_t k, char16_t ch) { return k < n && s.tok_e[k] - s.tok_s[k] == 1 && t[s.tok_s[k]] == ch; };
  auto word = [&](size_t k, const char* w) { return k < n && WordIs(t, s.tok_s[k], s.tok_e[k], w); };
  auto ident = [&](size_t k) { return k < n && IsIdentStart(t[s.tok_s[k]]); };
  // Forward: [new] name (. name | ?. name)* [?.] ( … )
  size_t k = idx;
  if (word(k, "new")) k++;
  if (!ident(k)) return false;
  for (k++;;) {
    if (is(k, '?') && is(k + 1, '.') && ident(k + 2)) {
      k += 3;
    } else if (is(k, '.') && ident(k + 1)) {
      k += 2;
    } else {
      break;
    }
  }
  if (is(k, '?') && is(k + 1, '.')) k += 2;
  if (!is(k, '(')) return false;
  const auto close = s.paren_close.find(s.tok_s[k]);
  if (close == s.paren_close.end()) return false;
  const auto after = std::upper_bound(s.tok_s.begin(), s.tok_s.end(), close->second);
  const size_t next = static_cast<size_t>(after - s.tok_s.begin());
  // Backward: over the callee's "name." chain to what precedes the call.
  size_t b = idx;
  while (!word(idx, "new")) {
    if (b >= 3 && is(b - 1, '.') && is(b - 2, '?') && ident(b - 3)) {
      b -= 3;
    } else if (b >= 2 && is(b - 1, '.') && ident(b - 2)) {
      b -= 2;
    } else {
      break;
    }
  }
  if (b == 0) return false;
  const size_t prev = b - 1;
  if (word(prev, "return")) return is(next, ';') || is(next, '}');
  if (s.tok_e[prev] - s.tok_s[prev] == 2 && t[s.tok_s[prev]] == '=' && t[s.tok_s[prev] + 1] == '>')
    return s.tok_s[prev] == fr.start && next < n && s.tok_s[next] == fr.end;
  if (is(prev, ';') || is(prev, '{') || is(prev, '}')) {
    size_t end = next;
    if (is(end, ';')) end++;
    return is(end, '}') && s.tok_s[end] == fr.end;
  }
  return false;
}

// Whether a function entered at `entry` (V8's position for a frame at its
// entry: its parameters' "(") may change state before its first interrupt
// check.
//
// Why it matters: V8 acts on a termination at the interrupt check after the
// one that asked for it — for a function stopped at its entry, that is the
// entry of the first JavaScript function it calls, or a loop of its own. So
// a cut judged at a function's entry really falls after the code before that
// check: if that code changes anything outside the function (`state.n++`,
// `x.busy = true`, a module variable), the cut leaves it half done. Which
// call is that check cannot be read from the source: a primordial or a
// binding (`ArrayPrototypeSlice(…)`, `binding.open(…)`) has none, and the
// first call in the text may sit in a branch not taken. So, on the safe
// side: any assignment, `++`/`--` or `delete` whose target is not one of the
// function's own parameters or declared locals counts, anywhere in its body
// (its nested functions apart); and if its first call names a function
// declared in the same script, that function's writes count too (V8 may have
// inlined it), `depth` levels deep.
bool WritesState(const SourceInfo& s, size_t entry, int depth) {
  const std::u16string& t = s.text;
  const size_t n = s.tok_s.size();
  // The function's body: the first function range that starts after its
  // parameter list (a parameter's default may hold a function of its own).
  const auto params_close = s.paren_close.find(static_cast<uint32_t>(entry));
  const size_t after_params = params_close != s.paren_close.end() ? params_close->second : entry;
  int32_t fi = -1;
  for (size_t j = 0; j < s.funcs.size(); j++)
    if (s.funcs[j].start > after_params && (fi < 0 || s.funcs[j].start < s.funcs[static_cast<size_t>(fi)].start))
      fi = static_cast<int32_t>(j);
  if (fi < 0) return true;
  const FuncRange& f = s.funcs[static_cast<size_t>(fi)];
  auto index = [&](size_t off) {
    return static_cast<size_t>(std::lower_bound(s.tok_s.begin(), s.tok_s.end(), static_cast<uint32_t>(off)) - s.tok_s.begin());
  };
  auto is = [&](size_t k, char16_t ch) { return k < n && s.tok_e[k] - s.tok_s[k] == 1 && t[s.tok_s[k]] == ch; };
  auto ident = [&](size_t k) { return k < n && IsIdentStart(t[s.tok_s[k]]); };
  auto text = [&](size_t k) { return std::u16string(t, s.tok_s[k], s.tok_e[k] - s.tok_s[k]); };
  auto word = [&](size_t k, const char* w) { return k < n && WordIs(t, s.tok_s[k], s.tok_e[k], w); };
  auto adjacent = [&](size_t a, size_t b) { return a < n && b < n && s.tok_e[a] == s.tok_s[b]; };
  auto opens = [&](size_t k) { return is(k, '(') || is(k, '[') || is(k, '{'); };
  auto closes = [&](size_t k) { return is(k, ')') || is(k, ']') || is(k, '}'); };
  std::vector<std::u16string> locals;
  auto local = [&](size_t k) { return std::find(locals.begin(), locals.end(), text(k)) != locals.end(); };
  const size_t body = index(f.start);
  {
    // Its parameters' names — not the names a default reads (`a = state`),
    // nor a destructuring pattern's keys (`{ key: name }`).
    int pd = 0;
    int default_depth = -1;  // inside a default at this depth
    for (size_t k = index(entry); k < body; k++) {
      if (opens(k)) {
        pd++;
      } else if (closes(k)) {
        if (--pd < default_depth) default_depth = -1;
      } else if (default_depth >= 0) {
        if (pd == default_depth && is(k, ',')) default_depth = -1;
      } else if (is(k, '=') && !(is(k + 1, '>') && adjacent(k, k + 1))) {
        default_depth = pd;
      } else if (ident(k) && !is(k + 1, ':')) {
        locals.push_back(text(k));
      }
    }
  }
  const size_t end = index(f.end);
  // The target of an assignment or update ending at token `k`: a name of the
  // function's own, or anything else.
  auto own_target = [&](size_t k) { return ident(k) && local(k) && !(k > 0 && is(k - 1, '.')); };
  int depth_now = 0;
  bool first_call_seen = false;
  int decl_depth = -1;  // inside `const|let|var …` at this bracket depth
  bool decl_name = false;  // the next name is being declared
  bool decl_init = false;  // past its `=`: a further `=` at that depth assigns (`const a = o.x = v`)
  for (size_t k = body + 1; k < end; k++) {
    auto nested = s.func_end.find(s.tok_s[k]);
    if (nested != s.func_end.end() && s.tok_s[k] != f.start) {
      // A function defined here runs only when called: skip it. A block body
      // ends at its own "}"; an arrow's expression body ends at the token
      // that ends the expression (`;`, `,`, a closing bracket), which is this
      // function's own code and is read next.
      const bool block = is(k, '{');  // (an expression-bodied arrow's range starts at its "=>")
      k = index(nested->second);
      if (k >= end) break;
      if (!block) k--;
      continue;
    }
    if (word(k, "for") && is(k + 1, '(') && !word(k + 2, "const") && !word(k + 2, "let") && !word(k + 2, "var")) {
      // `for (target of …)` / `for (target in …)` assigns its target.
      for (size_t m = k + 2, d = 0; m < end && !(d == 0 && (is(m, ';') || is(m, ')'))); m++) {
        if (opens(m)) d++;
        if (closes(m)) d--;
        if (d == 0 && (word(m, "of") || word(m, "in"))) {
          if (!(m == k + 3 && own_target(k + 2))) return true;
          break;
        }
      }
    }
    if (word(k, "const") || word(k, "let") || word(k, "var")) {
      decl_depth = depth_now;
      decl_name = true;
      decl_init = false;
      continue;
    }
    if (opens(k)) {
      // A call: its callee's code may have been inlined here.
      const bool call = is(k, '(') && k > 0 &&
                        ((ident(k - 1) && !word(k - 1, "if") && !word(k - 1, "while") && !word(k - 1, "for") &&
                          !word(k - 1, "switch") && !word(k - 1, "catch") && !word(k - 1, "with") &&
                          !word(k - 1, "return") && !word(k - 1, "typeof") && !word(k - 1, "void") &&
                          !word(k - 1, "delete") && !word(k - 1, "in") && !word(k - 1, "of") &&
                          !word(k - 1, "instanceof") && !word(k - 1, "else") && !word(k - 1, "case") &&
                          !word(k - 1, "throw") && !word(k - 1, "await") && !word(k - 1, "yield") &&
                          !word(k - 1, "do")) ||
                         is(k - 1, ')') || is(k - 1, ']'));
      if (call && !first_call_seen) {
        first_call_seen = true;
        // The first call: if it names a function of this script, V8 may have
        // inlined its code here — its writes count too.
        if (depth > 0 && ident(k - 1) && !(k >= 2 && is(k - 2, '.'))) {
          auto callee = s.declared.find(text(k - 1));
          if (callee != s.declared.end() && callee->second != entry && WritesState(s, callee->second, depth - 1))
            return true;
        }
      }
      if (decl_name && decl_depth == depth_now && !is(k, '(')) {
        // A destructuring pattern: every name in it is declared.
        int d = 0;
        for (size_t m = k; m < end; m++) {
          if (opens(m)) d++;
          if (closes(m)) d--;
          if (ident(m)) locals.push_back(text(m));
          if (d == 0) {
            k = m;
            break;
          }
        }
        decl_name = false;
        continue;
      }
      depth_now++;
      continue;
    }
    if (closes(k)) {
      depth_now--;
      if (decl_depth > depth_now) decl_depth = -1;
      continue;
    }
    if (word(k, "new")) {  // a constructor call (its constructor is not followed)
      first_call_seen = true;
      continue;
    }
    if (word(k, "delete")) return true;
    if (decl_depth == depth_now && is(k, ';')) {
      decl_depth = -1;
      continue;
    }
    if (decl_depth == depth_now && is(k, ',')) {
      decl_name = true;
      decl_init = false;
      continue;
    }
    if (ident(k) && decl_name && decl_depth == depth_now) {
      locals.push_back(text(k));
      decl_name = false;
      continue;
    }
    // `++` / `--`.
    if ((is(k, '+') && is(k + 1, '+') && adjacent(k, k + 1)) || (is(k, '-') && is(k + 1, '-') && adjacent(k, k + 1))) {
      const bool prefix_own = own_target(k + 2) && !is(k + 3, '.') && !is(k + 3, '[');
      const bool postfix_own = k > 0 && own_target(k - 1);
      if (!prefix_own && !postfix_own) return true;
      k++;
      continue;
    }
    // `=` and the compound assignments; not `==`, `===`, `!=`, `<=`, `>=`, `=>`.
    if (is(k, '=')) {
      if (is(k + 1, '=') && adjacent(k, k + 1)) {
        while (is(k + 1, '=') && adjacent(k, k + 1)) k++;
        continue;
      }
      size_t op = k;  // the first token of the operator
      if (k > 0 && adjacent(k - 1, k) && (is(k - 1, '!') || is(k - 1, '='))) continue;
      if (k > 0 && adjacent(k - 1, k) && (is(k - 1, '<') || is(k - 1, '>')) &&
          !(k > 1 && adjacent(k - 2, k - 1) && (is(k - 2, '<') || is(k - 2, '>'))))
        continue;  // <= >=
      while (op > 0 && adjacent(op - 1, op) && s.tok_e[op - 1] - s.tok_s[op - 1] == 1 &&
             std::u16string(u"+-*/%&|^<>?").find(t[s.tok_s[op - 1]]) != std::u16string::npos)
        op--;
      if (decl_depth == depth_now && !decl_init && op == k) {  // a declaration's initializer
        decl_init = true;
        continue;
      }
      if (op == 0 || !own_target(op - 1)) return true;
      continue;
    }
  }
  return false;
}

uint8_t PositionFlags(const SourceInfo& s, size_t offset) {
  uint8_t flags = StartsFunction(s.text, offset) ? kEntry : 0;
  if ((flags & kEntry) != 0 && WritesState(s, offset, 4)) flags |= kWritesState;
  // The innermost function containing the position (ranges nest: the one
  // that starts last).
  int32_t func = -1;
  for (size_t j = 0; j < s.funcs.size(); j++) {
    const FuncRange& f = s.funcs[j];
    if (f.start <= offset && offset <= f.end && (func < 0 || f.start >= s.funcs[static_cast<size_t>(func)].start))
      func = static_cast<int32_t>(j);
  }
  if (func >= 0 && s.funcs[static_cast<size_t>(func)].implicit) flags |= kImplicit;
  if (AtTailCall(s, func, offset)) flags |= kTail;
  for (const TryRange& r : s.tries)
    if (r.owner == func && r.start <= offset && offset <= r.end) flags |= kProtected;
  return flags;
}

void FindLines(SourceInfo& s) {
  s.line_starts.assign(1, 0);
  for (size_t i = 0; i < s.text.size(); i++)
    if (s.text[i] == '\n') s.line_starts.push_back(static_cast<uint32_t>(i + 1));
}

void Analyze(SourceInfo& s) {
  FindLines(s);
  Reader(s.text, s).Run();
  for (const FuncRange& f : s.funcs) s.func_end.emplace(f.start, f.end);
  const std::u16string& t = s.text;
  for (size_t k = 0; k + 2 < s.tok_s.size(); k++) {
    if (!WordIs(t, s.tok_s[k], s.tok_e[k], "function") || !IsIdentStart(t[s.tok_s[k + 1]])) continue;
    if (s.tok_e[k + 2] - s.tok_s[k + 2] != 1 || t[s.tok_s[k + 2]] != '(') continue;
    s.declared.emplace(std::u16string(t, s.tok_s[k + 1], s.tok_e[k + 1] - s.tok_s[k + 1]), s.tok_s[k + 2]);
  }
}

}  // namespace

struct LandingCache {
  std::unordered_map<int, Kind> kinds;
  // Node's scripts, read and tokenized once; the user's, read once (only
  // their lines: to name the call a frame is making).
  std::unordered_map<int, std::unique_ptr<SourceInfo>> sources;
  std::unordered_map<int, std::unique_ptr<SourceInfo>> texts;
  std::unordered_map<uint64_t, uint8_t> positions;
  std::unordered_map<uint64_t, std::pair<std::u16string, bool>> callees;  // (name, is a call)
};

LandingCache* NewLandingCache() { return new LandingCache(); }
void FreeLandingCache(LandingCache* cache) { delete cache; }

int ClassifySourcePosition(const std::u16string& source, size_t offset) {
  SourceInfo s;
  s.text = source;
  Analyze(s);
  const uint8_t f = PositionFlags(s, offset);
  if (f & kEntry) return (f & kWritesState) ? 4 : 3;
  if (f & kImplicit) return 2;
  if (f & kProtected) return 1;
  return 0;
}

bool IsTailCallPosition(const std::u16string& source, size_t offset) {
  SourceInfo s;
  s.text = source;
  Analyze(s);
  return (PositionFlags(s, offset) & kTail) != 0;
}

namespace {

Kind KindOf(v8::Isolate* isolate, LandingCache& c, v8::Local<v8::StackFrame> f) {
  const int id = f->GetScriptId();
  if (id == v8::Message::kNoScriptIdInfo) return Kind::kTransparent;
  auto known = c.kinds.find(id);
  if (known != c.kinds.end()) return known->second;
  Kind kind = Kind::kUser;
  // (Node 22+'s built-ins come from its startup snapshot: their scripts have
  // no name, only a source URL, "node:net".)
  v8::Local<v8::String> name = f->GetScriptNameOrSourceURL();
  if (!name.IsEmpty() && name->Length() >= 5) {
    std::u16string n(static_cast<size_t>(name->Length()), u'\0');  // (once per script)
    WriteUtf16(isolate, name, reinterpret_cast<uint16_t*>(n.data()));
    if (n.compare(0, 5, u"node:") == 0) kind = Kind::kNode;
  }
  c.kinds.emplace(id, kind);
  return kind;
}

// A frame's position as a key: script id, line, column (0 if unknown).
uint64_t PositionKey(v8::Local<v8::StackFrame> f) {
  const int line = f->GetLineNumber();
  const int col = f->GetColumn();
  if (line < 1 || col < 1 || line >= (1 << 21) || col >= (1 << 21)) return 0;
  return (static_cast<uint64_t>(static_cast<uint32_t>(f->GetScriptId())) << 42) |
         (static_cast<uint64_t>(line) << 21) | static_cast<uint64_t>(col);
}

// The frame's script source, read once: tokenized (`analyze`: Node's
// scripts) or only split into lines (the user's, for CalleeNameOf). A Node
// script already read tokenized serves both.
const SourceInfo& SourceOf(v8::Isolate* isolate, LandingCache& c, v8::Local<v8::StackFrame> f, bool analyze) {
  const int id = f->GetScriptId();
  auto done = c.sources.find(id);
  if (done != c.sources.end()) return *done->second;
  auto& cache = analyze ? c.sources : c.texts;
  auto src = cache.find(id);
  if (src != cache.end()) return *src->second;
  auto info = std::make_unique<SourceInfo>();
  v8::Local<v8::String> text = f->GetScriptSource();
  if (!text.IsEmpty()) {
    info->text.resize(static_cast<size_t>(text->Length()));
    WriteUtf16(isolate, text, reinterpret_cast<uint16_t*>(info->text.data()));
  }
  if (analyze) {
    Analyze(*info);
  } else {
    FindLines(*info);
  }
  return *cache.emplace(id, std::move(info)).first->second;
}

// Where a frame stands in its source: the offset, or npos if the source
// has no such position.
size_t OffsetOf(const SourceInfo& s, v8::Local<v8::StackFrame> f) {
  const size_t line = static_cast<size_t>(f->GetLineNumber());
  if (line > s.line_starts.size()) return std::u16string::npos;
  const size_t offset = s.line_starts[line - 1] + static_cast<size_t>(f->GetColumn()) - 1;
  return offset < s.text.size() ? offset : std::u16string::npos;
}

uint8_t FlagsOf(v8::Isolate* isolate, LandingCache& c, v8::Local<v8::StackFrame> f) {
  // Unknown position: judged protected (waiting is the safe side).
  const uint64_t key = PositionKey(f);
  if (key == 0) return kProtected;
  auto known = c.positions.find(key);
  if (known != c.positions.end()) return known->second;
  const SourceInfo& s = SourceOf(isolate, c, f, true);
  const size_t offset = OffsetOf(s, f);
  // (A position the source does not have: the safe side.)
  const uint8_t flags = offset == std::u16string::npos ? kProtected : PositionFlags(s, offset);
  c.positions.emplace(key, flags);
  return flags;
}

// The name a calling frame is calling, read at its position in its source
// (V8 puts a calling frame at the called name — `f` of `a.b.f(…)` — or at
// `new`, followed here to the constructor's name), and whether it is a call
// expression there (else a property read: the callee is a getter). Empty if
// there is none.
const std::pair<std::u16string, bool>& CalleeNameOf(v8::Isolate* isolate, LandingCache& c, v8::Local<v8::StackFrame> f) {
  static const std::pair<std::u16string, bool> kNone;
  const uint64_t key = PositionKey(f);
  if (key == 0) return kNone;
  auto known = c.callees.find(key);
  if (known != c.callees.end()) return known->second;
  const SourceInfo& s = SourceOf(isolate, c, f, KindOf(isolate, c, f) == Kind::kNode);
  const std::u16string& t = s.text;
  std::u16string name;
  bool call = false;
  if (size_t i = OffsetOf(s, f); i != std::u16string::npos) {
    auto word_end = [&](size_t k) {
      while (k < t.size() && IsIdentChar(t[k])) k++;
      return k;
    };
    auto skip_space = [&](size_t k) {
      while (k < t.size() && IsSpace(t[k])) k++;
      return k;
    };
    if (i < t.size() && WordIs(t, i, word_end(i), "new")) {
      // new a.b.C(…): the last name of the chain.
      i = skip_space(word_end(i));
      while (i < t.size() && IsIdentStart(t[i])) {
        const size_t e = word_end(i);
        name.assign(t, i, e - i);
        size_t k = skip_space(e);
        if (k < t.size() && t[k] == '?') k++;
        if (k >= t.size() || t[k] != '.') break;
        i = skip_space(k + 1);
      }
      call = true;
    } else if (i < t.size() && IsIdentStart(t[i]) && t[i] != '#') {
      const size_t e = word_end(i);
      name.assign(t, i, e - i);
      size_t k = skip_space(e);
      if (k + 1 < t.size() && t[k] == '?' && t[k + 1] == '.') k = skip_space(k + 2);
      call = k < t.size() && (t[k] == '(' || t[k] == '`');
    }
  }
  return c.callees.emplace(key, std::make_pair(std::move(name), call)).first->second;
}

// Whether `caller` is calling `callee` by its name: a call the caller's code
// makes itself, not one V8 makes on its behalf (a getter, a promise hook,
// a builtin's callback, valueOf…) nor one through another name.
bool CallsByName(v8::Isolate* isolate, LandingCache& c, v8::Local<v8::StackFrame> caller,
                 v8::Local<v8::StackFrame> callee) {
  v8::Local<v8::String> fn = callee->GetFunctionName();
  if (fn.IsEmpty() || fn->Length() == 0) return false;
  const auto& at = CalleeNameOf(isolate, c, caller);
  const std::u16string& called = at.first;
  if (!at.second || called.size() != static_cast<size_t>(fn->Length())) return false;
  std::u16string name(called.size(), u'\0');
  WriteUtf16(isolate, fn, reinterpret_cast<uint16_t*>(name.data()));
  return name == called;
}

// Whether `caller` stands at a property read (`Buffer` of `Buffer.alloc`,
// `x.size`): the function it runs is that property's getter.
bool ReadsProperty(v8::Isolate* isolate, LandingCache& c, v8::Local<v8::StackFrame> caller) {
  const auto& at = CalleeNameOf(isolate, c, caller);
  return !at.first.empty() && !at.second;
}

std::string Utf8(v8::Isolate* isolate, v8::Local<v8::String> s) {
  if (s.IsEmpty()) return std::string();
  v8::String::Utf8Value u(isolate, s);
  return *u != nullptr ? std::string(*u, static_cast<size_t>(u.length())) : std::string();
}

LandingVerdict Wait(v8::Isolate* isolate, v8::Local<v8::StackFrame> f, const char* why) {
  LandingVerdict v;
  v.land = false;
  v.why = why;
  std::string fn = Utf8(isolate, f->GetFunctionName());
  v.where = (fn.empty() ? std::string("<anonymous>") : fn) + " (" + Utf8(isolate, f->GetScriptNameOrSourceURL()) + ":" +
            std::to_string(f->GetLineNumber()) + ":" + std::to_string(f->GetColumn()) + ")";
  return v;
}

// A frame of Node's stopped at a tail call (AtTailCall), outside any
// protecting block.
bool Done(v8::Isolate* isolate, LandingCache& c, v8::Local<v8::StackFrame> f) {
  const uint8_t flags = FlagsOf(isolate, c, f);
  return (flags & kTail) != 0 && (flags & (kProtected | kImplicit)) == 0;
}

}  // namespace

bool TopForbidsLanding(v8::Isolate* isolate, LandingCache& c, v8::Local<v8::StackTrace> trace,
                       LandingVerdict* verdict) {
  if (trace.IsEmpty() || trace->GetFrameCount() < 1) return false;
  v8::Local<v8::StackFrame> f = trace->GetFrame(isolate, 0);
  if (KindOf(isolate, c, f) != Kind::kNode || (FlagsOf(isolate, c, f) & kEntry) != 0) return false;
  *verdict = Wait(isolate, f, "running Node's code");
  return true;
}

LandingVerdict JudgeLanding(v8::Isolate* isolate, LandingCache& c, v8::Local<v8::StackTrace> trace, int cut,
                            bool complete) {
  const int n = trace.IsEmpty() ? 0 : trace->GetFrameCount();
  const int limit = std::min(cut, n);
  auto frame = [&](int i) { return trace->GetFrame(isolate, static_cast<uint32_t>(i)); };
  int i = 0;
  while (i < limit && KindOf(isolate, c, frame(i)) == Kind::kTransparent) i++;
  if (i < limit && KindOf(isolate, c, frame(i)) == Kind::kNode) {
    // Node's code on top: only a call that has not begun, made by the
    // user's code, is the same as that call throwing.
    // V8 acts on the termination at the next interrupt check, after the
    // function's code up to its first call: that code must change nothing
    // (WritesState). The call must be the user's own, by the function's
    // name (not a getter, a hook or a builtin's callback), made directly or
    // through frames of Node's that have nothing left to do but return that
    // call's value (AtTailCall), each calling the next by its name.
    const uint8_t top = FlagsOf(isolate, c, frame(i));
    bool entry = (top & kEntry) != 0 && (top & kWritesState) == 0;
    int callee = i;
    int caller = i + 1;
    // A getter the user's code runs by reading its property (`Buffer` on
    // Node 26 is a getter of globalThis) is the user's own call too: like a
    // direct call, it waits (below) — the termination would act after the
    // getter returned, in whatever V8 inlined after the read (a stream
    // write, say).
    const bool getter = caller < n && KindOf(isolate, c, frame(caller)) == Kind::kUser &&
                        ReadsProperty(isolate, c, frame(caller));
    while (entry && !(getter && caller == i + 1)) {
      if (caller >= n || !CallsByName(isolate, c, frame(caller), frame(callee))) {
        entry = false;
        break;
      }
      const Kind k = KindOf(isolate, c, frame(caller));
      if (k == Kind::kUser) break;
      if (k != Kind::kNode || caller >= limit || !Done(isolate, c, frame(caller))) {
        entry = false;
        break;
      }
      callee = caller++;
    }
    // And only through a done frame: a call the user's code makes directly
    // is not cut at its entry, where the termination would act after the
    // code V8 may have inlined into the function (a call into C++ that opens
    // a file, say), but at the user's own next interrupt check, after which
    // the very next check is that call's entry.
    if (!entry || caller == i + 1) return Wait(isolate, frame(i), "running Node's code");
    i = caller;
  }
  for (; i < limit; i++) {
    v8::Local<v8::StackFrame> f = frame(i);
    if (KindOf(isolate, c, f) != Kind::kNode) continue;
    const uint8_t flags = FlagsOf(isolate, c, f);
    if (flags & kProtected) return Wait(isolate, f, "inside a try block of Node's");
    if (flags & kImplicit) return Wait(isolate, f, "inside an async function, generator or Promise executor of Node's");
  }
  if (!complete && n > 0) return Wait(isolate, frame(n - 1), "deeper than the stack could be read");
  return LandingVerdict();
}

}  // namespace tk
