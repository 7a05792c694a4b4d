-- Undoes realtime_0004: authorize() and read_batch() set claims of {sub, role} again and take
-- anon or authenticated only.

drop function if exists realtime.authorize(text, text, text, text, jsonb);
create or replace function realtime.authorize(
    user_role text, user_sub text, channel_prefix text, channel_argument text
) returns boolean
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    channel realtime.channels;
    allowed boolean;
    caller_role text := pg_catalog.current_setting('role');
    caller_claims text := pg_catalog.current_setting('request.jwt.claims', true);
    caller_sub text := pg_catalog.current_setting('request.jwt.claim.sub', true);
begin
    if user_role is null or user_role not in ('anon', 'authenticated') then
        raise exception 'realtime.authorize: role must be anon or authenticated, got %', user_role
            using errcode = '22023';
    end if;
    select * into channel from realtime.channels c where c.prefix = channel_prefix;
    if not found then
        raise exception 'realtime.authorize: no channel prefix %', channel_prefix
            using errcode = '22023';
    end if;
    perform pg_catalog.set_config('role', user_role, true),
            pg_catalog.set_config('request.jwt.claims',
                pg_catalog.jsonb_build_object('sub', user_sub, 'role', user_role)::text, true),
            pg_catalog.set_config('request.jwt.claim.sub', coalesce(user_sub, ''), true);
    -- Both names come from realtime.channels, which only the database owner writes
    -- (register_channel() checked the function's signature).
    execute pg_catalog.format('select %s($1::%s)', channel.authorize_function, channel.argument_type)
        into allowed
        using channel_argument;
    perform pg_catalog.set_config('role', caller_role, true),
            pg_catalog.set_config('request.jwt.claims', coalesce(caller_claims, ''), true),
            pg_catalog.set_config('request.jwt.claim.sub', coalesce(caller_sub, ''), true);
    return coalesce(allowed, false);
end
$$;

create or replace function realtime.read_batch(requests jsonb)
returns table (request integer, id bigint, payload text)
language plpgsql
set search_path = pg_catalog, pg_temp
set plan_cache_mode = force_generic_plan
set enable_seqscan = off
as $$
declare
    req record;
    visible bigint[];
    sent bigint[] := '{}';
    caller_role text := pg_catalog.current_setting('role');
    caller_claims text := pg_catalog.current_setting('request.jwt.claims', true);
    caller_sub text := pg_catalog.current_setting('request.jwt.claim.sub', true);
begin
    for req in
        select (e.ordinality - 1)::integer as n, e.value ->> 'role' as role,
               e.value ->> 'sub' as sub,
               array(select pg_catalog.jsonb_array_elements_text(e.value -> 'ids')::bigint) as ids
          from pg_catalog.jsonb_array_elements(requests) with ordinality as e(value, ordinality)
    loop
        -- `null not in (...)` is null, not true: a missing role must not read as the caller.
        if req.role is null or req.role not in ('anon', 'authenticated') then
            raise exception 'read_batch: request %: role must be anon or authenticated, got %',
                req.n, coalesce(pg_catalog.quote_literal(req.role), 'none')
                using errcode = '22023';
        end if;
        perform pg_catalog.set_config('role', req.role, true),
                pg_catalog.set_config('request.jwt.claims',
                    pg_catalog.jsonb_build_object('sub', req.sub, 'role', req.role)::text, true),
                pg_catalog.set_config('request.jwt.claim.sub', coalesce(req.sub, ''), true);

        -- Under the user's RLS: which of its ids may it see?
        select coalesce(pg_catalog.array_agg(m.id), '{}') into visible
          from realtime.messages m
         where m.id = any (req.ids);

        -- Ids already sent with an earlier identity: no payload again.
        return query
            select req.n, v, null::text
              from pg_catalog.unnest(visible) v
             where v = any (sent);
        -- Ids new in this batch: their payload, still read as this user.
        if not visible <@ sent then
            return query
                select req.n, m.id, m.payload::text
                  from realtime.messages m
                 where m.id = any (visible) and not m.id = any (sent);
            sent := sent || visible;
        end if;
    end loop;
    perform pg_catalog.set_config('role', caller_role, true),
            pg_catalog.set_config('request.jwt.claims', coalesce(caller_claims, ''), true),
            pg_catalog.set_config('request.jwt.claim.sub', coalesce(caller_sub, ''), true);
end;
$$;

create or replace function realtime.policy_rule(tbl regclass, out expression text, out row_columns smallint[])
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
declare
    rel_name text;
    rls boolean;
    policy record;
    permissive text[] := '{}';
    restrictive text[] := '{}';
    referenced smallint[] := '{}';
    inlinable boolean := true;
    volatile_function regprocedure;
    claims_function regprocedure;
    explicit_form text;
begin
    select c.relname, c.relrowsecurity into rel_name, rls from pg_catalog.pg_class c where c.oid = tbl;
    explicit_form := pg_catalog.format(
        'write a function of one %1$s row returning boolean that says who may see it, and pass'
        ' it: realtime.enable(%2$L, topic_template, %3$L)',
        tbl, tbl::text, 'schema.function(' || tbl::text || ')');
    if not rls then
        raise exception 'realtime.enable: table % does not have row level security enabled, so nothing says who may see its rows', tbl
            using errcode = '55000',
                  hint = 'enable row level security and add SELECT policies; or, if every reader may see every row, realtime.enable(table, topic_template, all_rows_visible => true)';
    end if;
    for policy in
        select p.polname, p.polpermissive,
               pg_catalog.pg_get_expr(p.polqual, p.polrelid) as expression,
               p.polqual::text as tree
          from pg_catalog.pg_policy p
         where p.polrelid = tbl
           and p.polcmd in ('r', '*')
           -- A policy without USING admits no row to a SELECT (as in the table's own RLS).
           and p.polqual is not null
           and exists (
               select from pg_catalog.unnest(p.polroles) as r(oid)
                where r.oid = 0 or pg_catalog.pg_has_role('authenticated', r.oid, 'USAGE'))
         order by p.polpermissive desc, p.polname
    loop
        if policy.tree ~ (':relid ' || tbl::oid::text || '\M') then
            raise exception 'realtime.enable: policy % on % reads % itself, so its answer for an event''s row would depend on the table as it is when the event is read',
                pg_catalog.quote_ident(policy.polname), tbl, tbl
                using errcode = '0A000', hint = explicit_form;
        end if;
        select f.oid::regprocedure into volatile_function
          from pg_catalog.regexp_matches(policy.tree, ':(?:funcid|opfuncid|aggfnoid|winfnoid) (\d+)', 'g') as m
          join pg_catalog.pg_proc f on f.oid = m[1]::oid
         where f.provolatile = 'v'
         limit 1;
        if found then
            raise exception 'realtime.enable: policy % on % calls volatile function %, whose answer for an event''s row may differ from the table''s',
                pg_catalog.quote_ident(policy.polname), tbl, volatile_function
                using errcode = '0A000', hint = explicit_form;
        end if;
        -- The stream reads as each user's role and sub (realtime.read_batch()), the claims its
        -- identity groups are keyed by; a policy reading the claims document may read others.
        select f.oid::regprocedure into claims_function
          from pg_catalog.regexp_matches(policy.tree, ':funcid (\d+)', 'g') as m
          join pg_catalog.pg_proc f on f.oid = m[1]::oid
         where f.oid in (pg_catalog.to_regprocedure('realtime.claims()'),
                         pg_catalog.to_regprocedure('auth.jwt()'))
         limit 1;
        if found then
            raise exception 'realtime.enable: policy % on % reads the token''s claims (%), but events are read with the claims sub and role only',
                pg_catalog.quote_ident(policy.polname), tbl, claims_function
                using errcode = '0A000',
                      hint = 'use auth.uid() or auth.role() in the policy; or ' || explicit_form;
        end if;
        -- Everything the policy reads must be a column of the row (never a system column).
        begin
            execute pg_catalog.format('select (%s) from pg_catalog.unnest(array[null::%s]) as %I where false',
                                      policy.expression, tbl, rel_name);
        exception when others then
            raise exception 'realtime.enable: policy % on % cannot be judged on an event''s row: %',
                pg_catalog.quote_ident(policy.polname), tbl, sqlerrm
                using errcode = '0A000', hint = explicit_form;
        end;
        -- A subquery, or the whole row (a function of the row), needs the row as a FROM item.
        if policy.tree ~ '\{SUBLINK ' or policy.tree ~ '\{VAR :varno 1 :varattno 0 ' then
            inlinable := false;
        end if;
        referenced := referenced || array(
            select m[1]::smallint
              from pg_catalog.regexp_matches(policy.tree, '\{VAR :varno 1 :varattno (\d+) ', 'g') as m);
        if policy.polpermissive then
            permissive := permissive || ('(' || policy.expression || ')');
        else
            restrictive := restrictive || ('(' || policy.expression || ')');
        end if;
    end loop;
    if pg_catalog.cardinality(permissive) = 0 then
        raise exception 'realtime.enable: no permissive SELECT policy of % applies to role authenticated, so its select shows that role no row', tbl
            using errcode = '0A000',
                  hint = 'create one (create policy ... on ' || tbl::text || ' for select to authenticated using (...)); or ' || explicit_form;
    end if;
    expression := '(' || pg_catalog.array_to_string(permissive, ' or ') || ')'
        || coalesce(' and ' || nullif(pg_catalog.array_to_string(restrictive, ' and '), ''), '');
    if inlinable then
        row_columns := array(select distinct c from pg_catalog.unnest(referenced) as c order by c);
    end if;
end
$$;

drop function if exists realtime.check_reader_role(text, text);
drop function if exists realtime.reader_claims(text, text, jsonb);
revoke execute on function realtime.authorize(text, text, text, text) from public;
grant execute on function realtime.authorize(text, text, text, text) to threadcast;
