-- starcoder-ls for Neovim's built-in LSP client.
--
-- Neovim 0.11+: put `editors/neovim` on 'runtimepath' (or copy this file to
-- ~/.config/nvim/lsp/), then `vim.lsp.enable('starcoder_ls')`. Override any field with
-- `vim.lsp.config('starcoder_ls', { ... })`.
--
-- Neovim 0.12+ shows the completions as ghost text (vim.lsp.inline_completion) and maps
-- <Tab> in insert mode to accept one; where there is none, <Tab> inserts a tab as usual.
-- Older versions complete through 'omnifunc' (<C-x><C-o>, then <C-y> to accept) or nvim-cmp.
--
-- Globals read at attach time:
--   vim.g.starcoder_ls_accept_key  accepts a suggestion      (default '<Tab>')
--   vim.g.starcoder_ls_next_key    shows the next suggestion (default '<M-]>')
--   vim.g.starcoder_ls_prev_key    shows the previous one    (default '<M-[>')
-- Set one to false for no mapping (then map vim.lsp.inline_completion.get() yourself).

-- This file is <repo>/editors/neovim/lsp/starcoder_ls.lua; `make run` / `make test` build
-- <repo>/.venv/bin/starcoder-ls. Copied elsewhere, `starcoder-ls` on PATH is used.
local function server_cmd()
  local this_file = debug.getinfo(1, 'S').source:gsub('^@', '')
  local repo = vim.fn.fnamemodify(this_file, ':p:h:h:h:h')
  local venv = repo .. '/.venv/bin/starcoder-ls'
  if vim.fn.executable(venv) == 1 then
    return { venv }
  end
  return { 'starcoder-ls' }
end

-- Client methods are called with ':' from 0.11 on ('.' is deprecated there) and with '.'
-- before; these helpers keep one file working on every version.
local function call(client, method, ...)
  if vim.fn.has('nvim-0.11') == 1 then
    return client[method](client, ...)
  end
  return client[method](...)
end

-- The last `starcoder/status` of each client, for :StarcoderStatus.
local statuses = {}

local function show_status(client_id)
  local status = statuses[client_id]
  if not status then
    vim.notify('starcoder-ls: no status yet', vim.log.levels.WARN)
    return
  end
  local text = ('starcoder-ls: %s %s'):format(status.model or '?', status.state or '?')
  if status.device and status.device ~= '' then
    text = text .. (' on %s (%s)'):format(status.device, status.dtype or '?')
  end
  if status.message and status.message ~= '' then
    text = text .. ': ' .. status.message
  end
  local level = status.state == 'error' and vim.log.levels.ERROR or vim.log.levels.INFO
  vim.notify(text, level)
end

local function on_status(_, status, ctx)
  if type(status) ~= 'table' then
    return
  end
  local previous = statuses[ctx.client_id]
  statuses[ctx.client_id] = status
  if status.state == 'error' and not (previous and previous.state == 'error') then
    vim.notify(
      ('starcoder-ls: could not load %s: %s'):format(status.model or '?', status.message or '?'),
      vim.log.levels.ERROR
    )
  end
end

local function create_commands(client)
  vim.api.nvim_create_user_command('StarcoderStatus', function()
    show_status(client.id)
  end, { desc = 'Show the state of the starcoder-ls model', force = true })
  vim.api.nvim_create_user_command('StarcoderToggle', function()
    local disabled = (statuses[client.id] or {}).state == 'disabled'
    call(client, 'notify', 'workspace/didChangeConfiguration', {
      settings = { starcoder = { enabled = disabled } },
    })
    vim.notify('starcoder-ls: completions ' .. (disabled and 'on' or 'off'))
  end, { desc = 'Turn starcoder-ls completions off or on', force = true })
end

local function map_inline_completion(bufnr)
  local ic = vim.lsp.inline_completion
  ic.enable(true, { bufnr = bufnr })
  local accept = vim.g.starcoder_ls_accept_key
  if accept == nil then
    accept = '<Tab>'
  end
  if accept then
    vim.keymap.set('i', accept, function()
      if ic.get() then
        return '' -- accepted; the text is inserted by get() itself
      end
      -- Nothing to accept: what the key does without us (Neovim's own <Tab> jumps to the
      -- next snippet placeholder first).
      if accept == '<Tab>' and vim.snippet and vim.snippet.active({ direction = 1 }) then
        return '<Cmd>lua vim.snippet.jump(1)<CR>'
      end
      return accept
    end, { buffer = bufnr, expr = true, desc = 'Accept the starcoder-ls suggestion' })
  end
  local keys = {
    { vim.g.starcoder_ls_next_key, '<M-]>', 1 },
    { vim.g.starcoder_ls_prev_key, '<M-[>', -1 },
  }
  for _, key in ipairs(keys) do
    local lhs = key[1] == nil and key[2] or key[1]
    if lhs then
      vim.keymap.set('i', lhs, function()
        ic.select({ bufnr = bufnr, count = key[3] })
      end, { buffer = bufnr, desc = 'Other starcoder-ls suggestion' })
    end
  end
end

-- An LSP character offset on `line` as a byte column.
local function byte_column(line, character, encoding)
  encoding = encoding or 'utf-16'
  if encoding == 'utf-8' then
    return math.min(character, #line)
  end
  local ok, index
  if vim.fn.has('nvim-0.11') == 1 then
    ok, index = pcall(vim.str_byteindex, line, encoding, character, false)
  else
    ok, index = pcall(vim.str_byteindex, line, character, encoding == 'utf-16')
  end
  return ok and index or #line
end

local CLOSERS = '^[%)%]}"\'`]+$'

-- The built-in menu inserts a plain-text suggestion as its `word`: Neovim 0.11 cuts it at
-- the first space, 0.7-0.10 put its line breaks into one line. When one of our items is
-- accepted, replace what the menu inserted by the whole suggestion, and report it.
local function complete_whole_suggestion(client, bufnr)
  vim.api.nvim_create_autocmd('CompleteDone', {
    group = vim.api.nvim_create_augroup('starcoder_ls_complete_' .. bufnr, { clear = true }),
    buffer = bufnr,
    callback = function()
      local reason = (vim.v.event or {}).reason
      if reason ~= nil and reason ~= 'accept' then
        return
      end
      local done = vim.v.completed_item
      local item = type(done) == 'table' and type(done.user_data) == 'table'
        and vim.tbl_get(done.user_data, 'nvim', 'lsp', 'completion_item')
      local ours = item and item.command and item.command.command == 'starcoder.accepted'
      if not (ours and item.textEdit) then
        return
      end
      local row, col = unpack(vim.api.nvim_win_get_cursor(0))
      row = row - 1
      local line = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, true)[1]
      local edit = item.textEdit
      local start = byte_column(line, edit.range.start.character, client.offset_encoding)
      start = math.min(start, col)
      local lines = vim.split(edit.newText, '\n', { plain = true })
      -- Auto-closed characters the suggestion already ends with are replaced, not doubled.
      local rest = line:sub(col + 1)
      local stop = col
      if rest:match(CLOSERS) and edit.newText:sub(-#rest) == rest then
        stop = #line
      end
      vim.api.nvim_buf_set_text(bufnr, row, start, row, stop, lines)
      local last = #lines == 1 and start + #lines[1] or #lines[#lines]
      vim.api.nvim_win_set_cursor(0, { row + #lines, last })
      call(client, 'request', 'workspace/executeCommand', {
        command = item.command.command,
        arguments = item.command.arguments,
      }, function() end, bufnr)
    end,
  })
end

return {
  cmd = server_cmd(),
  -- No `filetypes`: every file buffer, as with other AI completion servers. Restrict it
  -- here, or exclude languages on the server side with `languages = { '*', '!markdown' }`.
  root_markers = { '.git' },
  init_options = {
    -- Neovim already waits 200 ms after a keystroke before it asks for a completion.
    debounceMs = 0,
  },
  handlers = {
    ['starcoder/status'] = on_status,
  },
  on_attach = function(client, bufnr)
    create_commands(client)
    local inline = vim.lsp.inline_completion
      and call(client, 'supports_method', 'textDocument/inlineCompletion', bufnr)
    if inline then
      map_inline_completion(bufnr)
      return
    end
    if vim.bo[bufnr].omnifunc == '' then
      vim.bo[bufnr].omnifunc = 'v:lua.vim.lsp.omnifunc'
    end
    complete_whole_suggestion(client, bufnr)
  end,
}
