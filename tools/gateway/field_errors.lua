-- Adds a google.rpc.BadRequest field violation to the gateway's own 400 replies when the
-- transcoder's message names the field, with the JSON (lowerCamelCase) path the client sent;
-- the ErrorInfo then says INVALID_FIELD with metadata "field", as a service's would.
-- The body is already the google.rpc.Status the local reply mapper wrote (keys in order
-- code, details, message); service errors carry other reasons and pass untouched.

local MARK = '"domain":"hisaab.app","reason":"INVALID_REQUEST"}'

local function camel(path)
  return (path:gsub("_(%l)", string.upper))
end

local function field_of(message)
  -- "expense.total.amount_minor: invalid value \"12.50\" for type TYPE_INT64"
  local path, rest = message:match('^([%w_%.%[%]]+): (.*)$')
  if path then
    return path, rest
  end
  -- An unknown query parameter: Could not find field \"foo\" in the type \"...\".
  path = message:match('^Could not find field \\"([%w_%.]+)\\" in the type')
  if path then
    return path, "is not a parameter of this method"
  end
  return nil, nil
end

function envoy_on_response(handle)
  if handle:headers():get(":status") ~= "400" then
    return
  end
  local body = handle:body()
  if body == nil then
    return
  end
  local text = body:getBytes(0, body:length())
  local at = text:find(MARK, 1, true)
  if at == nil then
    return
  end
  local message = text:match('"message":"(.*)"}%s*$')
  if message == nil then
    return
  end
  local path, description = field_of(message)
  if path == nil then
    return
  end
  local field = camel(path)
  local violation = '{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"'
    .. field .. '","description":"' .. description .. '"}]}'
  local info = '"domain":"hisaab.app","metadata":{"field":"' .. field .. '"},"reason":"INVALID_FIELD"}'
  local out = text:sub(1, at - 1) .. info .. "," .. violation .. '],"message":"' .. field .. ": " .. description .. '"}\n'
  body:setBytes(out)
  handle:headers():replace("content-length", tostring(#out))
end
