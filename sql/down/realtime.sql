-- Uninstalls sql/realtime.sql (the realtime track's baseline downgrade): removes the realtime
-- schema, the auth schema if the engine created it, and, where no other database still uses
-- them, the roles it created.

drop schema if exists realtime cascade;

-- The auth schema only if the engine created it (its comment says so), and only while nothing
-- else uses it: policies that call auth.uid() keep it (and it keeps working without the engine).
do $$
begin
    if coalesce(pg_catalog.obj_description(pg_catalog.to_regnamespace('auth')::oid, 'pg_namespace'),
                '') not like 'threadcast:%' then
        return;
    end if;
    begin
        drop function if exists auth.uid(), auth.jwt(), auth.role();
        drop schema auth;
    exception when dependent_objects_still_exist then
        raise notice 'schema auth is still used (%); kept', sqlerrm;
    end;
end
$$;

do $$
declare
    role_name text;
begin
    foreach role_name in array array['threadcast', 'authenticated', 'anon'] loop
        begin
            execute format('drop role if exists %I', role_name);
        exception when dependent_objects_still_exist then
            -- Roles are cluster-wide; another database still grants them something.
            raise notice 'role % is still used elsewhere in this cluster; kept', role_name;
        end;
    end loop;
end
$$;
